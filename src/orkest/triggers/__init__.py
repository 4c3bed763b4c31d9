"""What runs a deployment when something happens: files, webhooks, databases, runs, events.

Pure definitions (layer 1, SPEC §5): each trigger checks its fields when made, stores as a
dict (`to_dict`, `trigger_from`), and says which events it answers (`matches`). Their
`parameters` are templates rendered with the event (`{{ event.path }}`,
`{{ event.body.x }}`, `{{ event.payload }}`). The trigger service (orkest.services.triggers)
watches, stores events and creates the runs; docs/triggers.md tells the whole story.
"""

from orkest.triggers.base import Trigger, trigger_from
from orkest.triggers.db import DB_EVENT, DbChange
from orkest.triggers.events import Event
from orkest.triggers.files import FILE_EVENT, FileArrival
from orkest.triggers.flow_runs import FlowRunFinished, flow_run_event_name
from orkest.triggers.webhook import Webhook, webhook_event_name

__all__ = ["DB_EVENT", "FILE_EVENT", "DbChange", "Event", "FileArrival", "FlowRunFinished",
           "Trigger", "Webhook", "flow_run_event_name", "trigger_from", "webhook_event_name"]
