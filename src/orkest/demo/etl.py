"""The demo ETL behind `orkest demo`: a small, real flow showing what orkest records.

extract -> transform -> validate -> load (one task run per batch, with .map) -> notify.

The orders API is simulated. Its first request in every flow run answers "503 Service
Unavailable", so `extract` fails once and succeeds on its retry: each demo run shows a
retry, the same way every time. Data is generated from a fixed seed. A run takes about
two seconds.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from orkest import flow, get_run_logger, task
from orkest.runners import ThreadPoolRunner

COUNTRIES = ("DE", "FR", "NL", "SE", "US")


class OrdersApi:
    """A stand-in for a remote API whose first request fails (a deploy in progress)."""

    def __init__(self, rows: int, seed: int = 7) -> None:
        self.rows = rows
        self.seed = seed
        self.requests = 0
        self._lock = threading.Lock()

    def fetch_orders(self) -> list[dict[str, Any]]:
        with self._lock:
            self.requests += 1
            attempt = self.requests
        time.sleep(0.3)  # the network
        if attempt == 1:
            raise ConnectionError("503 Service Unavailable from the orders API (simulated)")
        rng = random.Random(self.seed)
        return [
            {"order_id": i, "country": rng.choice(COUNTRIES),
             "amount": round(rng.uniform(-20.0, 400.0), 2)}
            for i in range(self.rows)
        ]


@task(retries=2, retry_delay_seconds=0.5, tags=["api"])
def extract(api: OrdersApi) -> list[dict[str, Any]]:
    """Fetch the day's orders (retried: the API is flaky)."""
    orders = api.fetch_orders()
    get_run_logger().info("Fetched %d orders from the orders API", len(orders))
    return orders


@task
def transform(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop refunds, convert amounts to cents and add VAT."""
    time.sleep(0.2)
    rows = [
        {**order, "amount_cents": round(order["amount"] * 100),
         "vat_cents": round(order["amount"] * 19)}
        for order in orders if order["amount"] > 0
    ]
    print(f"transform: kept {len(rows)} of {len(orders)} orders ({len(orders) - len(rows)} "
          "refunds dropped)")
    return rows


@task
def validate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refuse to load data that breaks the warehouse's rules."""
    time.sleep(0.1)
    bad = [r["order_id"] for r in rows if r["amount_cents"] <= 0 or r["country"] not in COUNTRIES]
    if bad:
        raise ValueError(f"{len(bad)} invalid rows, first ids: {bad[:5]}")
    get_run_logger().info("All %d rows are valid", len(rows))
    return rows


@task(tags=["warehouse"])
def load(batch: list[dict[str, Any]]) -> int:
    """Write one batch to the (simulated) warehouse."""
    time.sleep(0.3)
    get_run_logger().info("Loaded orders %d..%d", batch[0]["order_id"], batch[-1]["order_id"])
    return len(batch)


@task
def notify(loaded: list[int]) -> str:
    """Tell the team (here: the run's logs) what was loaded."""
    message = f"Loaded {sum(loaded)} orders in {len(loaded)} batches"
    get_run_logger().info(message)
    return message


@flow(name="demo-etl", log_prints=True, task_runner=ThreadPoolRunner(max_workers=4))
def demo_etl(rows: int = 500, batch_size: int = 100) -> dict[str, Any]:
    """Extract orders, clean and check them, load them in parallel batches, report."""
    api = OrdersApi(rows)
    clean = validate(transform(extract(api)))
    batches = [clean[i:i + batch_size] for i in range(0, len(clean), batch_size)]
    loaded = load.map(batches)
    message = notify(loaded)
    return {"orders": len(clean), "batches": len(batches), "message": message}
