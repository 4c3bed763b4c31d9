"""The domain: states, transitions, records, tasks, flows. No SQL, HTTP, UI or CLI here."""
