"""Checks of a rendered Kubernetes Job manifest before anyone could send it.

`check_job_manifest` raises a TemplateError naming the first field that is wrong: names
that are not DNS-1123 labels, bad label syntax, `backoffLimit` other than 0 (orkest
retries runs itself; a Kubernetes retry would run the flow a second time behind the state
machine's back), `restartPolicy` other than Never, a Job or pod without the run's id as a
label, a container command without the run's id, and secrets given as values: ORKEST_API_KEY
and ORKEST_SECRET_* must come from a `secretKeyRef`, and no secret value this process knows
(registered for masking, or its own ORKEST_API_KEY) may appear anywhere in the manifest.
The name rules are shared with kubernetes.py, which checks its arguments with them.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

from orkest.core.records import FlowRun
from orkest.errors import TemplateError

RUN_ID_LABEL = "orkest.io/flow-run-id"
MAX_NAME = 63  # a Job's name becomes a label value on its pods: a DNS-1123 label
TEMPLATE_NAME = "job_template"
# Shorter API keys are not looked for in the manifest: "orkest" would match every label.
MIN_KEY_LENGTH = 8

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
SECRET_KEY_NAME = re.compile(r"^[-._a-zA-Z0-9]+$")
QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|[KMGTPE]i?|[munk])?$")
_KINDS = {int: "an integer", str: "a string", dict: "a mapping", list: "a list"}


def is_dns_label(text: str) -> bool:
    """Whether `text` can name a Job, a namespace or a container."""
    return len(text) <= MAX_NAME and DNS_LABEL.match(text) is not None


def is_secret_env(name: str) -> bool:
    """Whether an environment variable holds a secret (ORKEST_SECRET_KEY included)."""
    return name == "ORKEST_API_KEY" or name.startswith("ORKEST_SECRET_")


def check_job_manifest(manifest: Any, run: FlowRun) -> None:
    """Raise TemplateError naming the first field of `manifest` that is not as required."""
    def get(path: str, kind: type, *, required: bool = True) -> Any:
        value: Any = manifest
        for step in path.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        if value is None and not required:
            return None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            _invalid(path, f"must be {_KINDS[kind]}, got {_shown(value)}")
        return value

    if not isinstance(manifest, dict):
        _invalid("(top)", f"must be a mapping, got {_shown(manifest)}")
    _check_no_secret_values(manifest)  # first: no later message may quote a secret
    if get("apiVersion", str) != "batch/v1" or get("kind", str) != "Job":
        _invalid("apiVersion/kind", f"must be batch/v1 Job, got {manifest.get('apiVersion')!r} "
                                f"{manifest.get('kind')!r}")
    name = get("metadata.name", str)
    if not is_dns_label(name):
        _invalid("metadata.name", f"{name!r} is not a DNS-1123 label (lower case letters, digits "
                              "and '-', at most 63 characters)")
    namespace = get("metadata.namespace", str, required=False)
    if namespace is not None and not is_dns_label(namespace):
        _invalid("metadata.namespace", f"{namespace!r} is not a DNS-1123 label")
    for where in ("metadata.labels", "spec.template.metadata.labels"):
        labels = get(where, dict)
        for key, value in labels.items():
            problem = label_problem(key, value)
            if problem:
                _invalid(f"{where}[{key!r}]", problem)
        if labels.get(RUN_ID_LABEL) != run.id:
            _invalid(f"{where}[{RUN_ID_LABEL!r}]", f"must be the run's id {run.id!r} (the worker "
                                               "finds the run's Job and pods by it)")
    if get("spec.backoffLimit", int) != 0:
        _invalid("spec.backoffLimit", "must be 0: orkest retries flow runs itself, and a "
                                  "Kubernetes retry would run the flow twice")
    for field in ("spec.activeDeadlineSeconds", "spec.ttlSecondsAfterFinished"):
        seconds = get(field, int, required=False)
        least = 1 if "Deadline" in field else 0
        if seconds is not None and seconds < least:
            _invalid(field, f"must be at least {least} seconds, got {seconds}")
    restart = get("spec.template.spec.restartPolicy", str)
    if restart != "Never":
        _invalid("spec.template.spec.restartPolicy", f"must be Never, got {restart!r} (a "
                                                 "restarted pod would rerun the flow)")
    containers = get("spec.template.spec.containers", list)
    if not containers:
        _invalid("spec.template.spec.containers", "must name at least one container")
    for index, container in enumerate(containers):
        _check_container(container, f"spec.template.spec.containers[{index}]")
    if not any(run.id in (c.get("command") or []) + (c.get("args") or [])
               for c in containers):
        _invalid("spec.template.spec.containers", f"no container's command or args holds the "
                                              f"run's id {run.id!r}")


def label_problem(key: Any, value: Any) -> str | None:
    """What is wrong with a label `key: value` (prefix/name syntax, 63 characters), if any."""
    if not isinstance(key, str) or not isinstance(value, str):
        return f"label keys and values must be strings, got {_shown(key)}: {_shown(value)}"
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return f"the prefix {prefix!r} of the key is not a DNS-1123 subdomain"
    if len(name) > MAX_NAME or not LABEL_NAME.match(name):
        return f"the key name {name!r} is not a label name"
    if value and (len(value) > MAX_NAME or not LABEL_NAME.match(value)):
        return (f"the value {value!r} is not a label value (at most 63 of letters, digits, "
                "'-', '_', '.', alphanumeric at both ends)")
    return None


def _invalid(path: str, problem: str) -> NoReturn:
    raise TemplateError(f"Kubernetes {TEMPLATE_NAME} rendered an invalid Job: {path}: "
                        f"{problem}")


def _check_container(container: Any, path: str) -> None:
    if not isinstance(container, dict):
        _invalid(path, f"must be a mapping, got {_shown(container)}")
    name = container.get("name")
    if not isinstance(name, str) or not is_dns_label(name):
        _invalid(f"{path}.name", f"{name!r} is not a DNS-1123 label")
    image = container.get("image")
    if not isinstance(image, str) or not image.strip():
        _invalid(f"{path}.image", f"must be a non-empty string, got {_shown(image)}")
    for key in ("command", "args"):
        argv = container.get(key)
        if argv is not None and (not isinstance(argv, list) or
                                 not all(isinstance(a, str) for a in argv)):
            _invalid(f"{path}.{key}", f"must be a list of strings, got {_shown(argv)}")
    for index, entry in enumerate(container.get("env") or []):
        _check_env_entry(entry, f"{path}.env[{index}]")
    resources = container.get("resources") or {}
    if not isinstance(resources, dict):
        _invalid(f"{path}.resources", f"must be a mapping, got {_shown(resources)}")
    for part, amounts in resources.items():
        if part not in ("requests", "limits") or not isinstance(amounts, dict):
            _invalid(f"{path}.resources.{part}", "only requests and limits (mappings) are known")
        for resource, amount in amounts.items():
            if isinstance(amount, bool) or not QUANTITY.match(str(amount)):
                _invalid(f"{path}.resources.{part}.{resource}",
                     f"{amount!r} is not a quantity (e.g. 500m, 2, 1Gi)")


def _check_env_entry(entry: Any, path: str) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        _invalid(path, f"must be a mapping with a name, got {_shown(entry)}")
    name = entry["name"]
    if not ENV_NAME.match(name):
        _invalid(f"{path}.name", f"{name!r} is not an environment variable name")
    if is_secret_env(name):
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef") or {}
        if "value" in entry or not (ref.get("name") and ref.get("key")):
            _invalid(path, f"{name} must come from a Secret (valueFrom.secretKeyRef with name "
                       "and key), never as a value in the manifest")
    elif "value" in entry and not isinstance(entry["value"], str):
        _invalid(f"{path}.value", f"must be a string, got {_shown(entry['value'])}")


def _check_no_secret_values(manifest: Any) -> None:
    """No secret this process knows (registered for masking, or its API key) is in it."""
    from orkest import settings
    from orkest._internal import masking

    text = json.dumps(manifest, default=str)
    key = settings.current().api_key
    has_key = bool(key) and len(key) >= MIN_KEY_LENGTH and key in text
    if has_key or (masking.active() and masking.mask(text) != text):
        _invalid("(anywhere)", "holds a secret value; secrets reach the pod only by "
                           "valueFrom.secretKeyRef")


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"
