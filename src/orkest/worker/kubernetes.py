"""The Kubernetes Job of one flow run: a YAML template, rendered and checked (a design aid).

This is the tested half of docs/kubernetes.md: nothing here talks to a cluster. A
Kubernetes work pool (not built) would claim a run as any worker does, then create the
Job that `render_job_manifest` returns; its pod runs `python -m orkest.worker.execute
FLOW_RUN_ID` against the API server.

The template is parsed as YAML *first*, then each string in it is rendered on its own in
orkest's Jinja sandbox (a value that is exactly `{{ expr }}` becomes that value: a list,
a dict, a number). A run name holding `: ` or a newline therefore cannot change the
manifest's shape, as it could if the text were rendered and then parsed. Fields that
render to null are left out.

The rendered manifest is checked (kubernetes_checks.py) before it is returned: names,
labels, `backoffLimit: 0`, `restartPolicy: Never`, and secrets only by reference (the API
key comes from a Kubernetes Secret; its value is never read here).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from orkest.core.deployments import Deployment
from orkest.core.records import FlowRun
from orkest.errors import ConfigurationError, TemplateError
from orkest.worker.kubernetes_checks import (
    DNS_SUBDOMAIN,
    MAX_NAME,
    RUN_ID_LABEL,
    SECRET_KEY_NAME,
    TEMPLATE_NAME,
    check_job_manifest,
    is_dns_label,
    is_secret_env,
    label_problem,
)

EXECUTE_MODULE = "orkest.worker.execute"
PULL_POLICIES = ("Always", "IfNotPresent", "Never")

DEFAULT_JOB_TEMPLATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: "{{ name }}"
  namespace: "{{ namespace }}"
  labels: "{{ labels }}"
  annotations: "{{ annotations }}"
spec:
  backoffLimit: 0
  activeDeadlineSeconds: "{{ active_deadline_seconds }}"
  ttlSecondsAfterFinished: "{{ ttl_seconds_after_finished }}"
  template:
    metadata:
      labels: "{{ labels }}"
      annotations: "{{ annotations }}"
    spec:
      restartPolicy: Never
      serviceAccountName: "{{ service_account_name }}"
      containers:
        - name: flow
          image: "{{ image }}"
          imagePullPolicy: "{{ image_pull_policy }}"
          command: "{{ command }}"
          env: "{{ env }}"
          resources: "{{ resources }}"
"""


# -- names ---------------------------------------------------------------------------------

def slug(text: str, limit: int = MAX_NAME) -> str:
    """`text` as a DNS-1123 label: lower case ASCII letters, digits and inner dashes.

    Accents are dropped ("Café" -> "cafe"), every other run of characters becomes one
    dash; an empty result is "run".
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return cleaned[:limit].strip("-") or "run"


def label_value(text: str) -> str:
    """`text` as a label value (<= 63 of [A-Za-z0-9-_.], alphanumeric at both ends)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:MAX_NAME]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def job_name(run: FlowRun) -> str:
    """`orkest-<run name>-<id prefix>-<attempt>`, at most 63 characters.

    The id prefix keeps runs with the same name apart; the attempt keeps a rerun of a
    crashed run from colliding with the previous attempt's Job (kept until its TTL ends).
    """
    tail = f"-{run.id.replace('-', '')[:8].lower()}-{run.run_count + 1}"
    return f"orkest-{slug(run.name, MAX_NAME - len('orkest-') - len(tail))}{tail}"


# -- rendering -----------------------------------------------------------------------------

def render_job_manifest(run: FlowRun, deployment: Deployment, *, image: str,
                        namespace: str = "default", api_url: str,
                        api_key_secret: str = "orkest-api-key",
                        api_key_secret_key: str = "api-key",
                        resources: Mapping[str, Any] | None = None,
                        active_deadline_seconds: int | None = None,
                        ttl_seconds_after_finished: int | None = 3600,
                        service_account_name: str | None = None,
                        image_pull_policy: str = "IfNotPresent",
                        labels: Mapping[str, str] | None = None,
                        env: Mapping[str, str] | None = None,
                        template: str = DEFAULT_JOB_TEMPLATE) -> dict[str, Any]:
    """The Job that runs `run` (a claimed run of `deployment`) in a pod, checked.

    The API key reaches the pod from the Secret `api_key_secret` (its key
    `api_key_secret_key`); its value is never read here. Raises ConfigurationError for a
    bad argument, TemplateError for a template that cannot be rendered or renders a Job
    that is not valid.
    """
    from orkest.templating import render_structure

    _check_arguments(run, deployment, image=image, namespace=namespace, api_url=api_url,
                     secret=api_key_secret, secret_key=api_key_secret_key,
                     pull_policy=image_pull_policy)
    context = {
        "name": job_name(run),
        "namespace": namespace,
        "image": image,
        "image_pull_policy": image_pull_policy,
        "command": ["python", "-m", EXECUTE_MODULE, run.id],
        "labels": {**_labels(run, deployment), **_extra_labels(labels)},
        "annotations": {"orkest.io/flow-run-name": run.name,
                        "orkest.io/deployment": deployment.full_name},
        "env": _env(run, api_url, api_key_secret, api_key_secret_key, env),
        "resources": dict(resources) if resources else None,
        "active_deadline_seconds": active_deadline_seconds,
        "ttl_seconds_after_finished": ttl_seconds_after_finished,
        "service_account_name": service_account_name,
        "api_url": api_url,
        "flow_run": {"id": run.id, "name": run.name, "flow_name": run.flow_name,
                     "attempt": run.run_count + 1, "parameters": dict(run.parameters)},
        "deployment": {"id": deployment.id, "name": deployment.name,
                       "full_name": deployment.full_name, "work_pool": deployment.work_pool,
                       "tags": list(deployment.tags)},
    }
    parsed = parse_template(template)
    rendered = _prune_nulls(render_structure(parsed, context, name=TEMPLATE_NAME,
                                             native=True))
    check_job_manifest(rendered, run)
    return rendered


def parse_template(template: str) -> dict[str, Any]:
    """The template's YAML as data (strings still holding their `{{ }}` markup)."""
    import yaml

    if not isinstance(template, str):
        raise TemplateError(f"Kubernetes {TEMPLATE_NAME}: expected YAML text, got "
                            f"{type(template).__name__}")
    try:
        parsed = yaml.safe_load(template)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" on line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateError(
            f"Kubernetes {TEMPLATE_NAME} is not valid YAML{where}: {problem}. Quote every "
            "value that starts with '{{', e.g. image: \"{{ image }}\"") from exc
    if not isinstance(parsed, dict):
        raise TemplateError(f"Kubernetes {TEMPLATE_NAME} must be a YAML mapping (a Job "
                            f"manifest), not {type(parsed).__name__}")
    return parsed


def _check_arguments(run: FlowRun, deployment: Deployment, *, image: str, namespace: str,
                     api_url: str, secret: str, secret_key: str, pull_policy: str) -> None:
    if run.deployment_id is not None and run.deployment_id != deployment.id:
        raise ConfigurationError(f"Flow run {run.id} belongs to deployment "
                                 f"{run.deployment_id}, not to {deployment.id}")
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
        raise ConfigurationError(f"image={image!r} is not a container image reference; "
                                 "use e.g. registry.example.com/etl:1.4")
    if not isinstance(namespace, str) or not is_dns_label(namespace):
        raise ConfigurationError(f"namespace={namespace!r} is not a Kubernetes namespace "
                                 "name (lower case letters, digits and '-', at most 63)")
    parts = urlsplit(api_url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"api_url={api_url!r} is not an http(s) URL the pods can "
                                 "reach, e.g. http://orkest.orkest.svc:4200/api")
    if not DNS_SUBDOMAIN.match(secret or "") or len(secret) > 253:
        raise ConfigurationError(f"api_key_secret={secret!r} is not a Secret name "
                                 "(DNS-1123: lower case letters, digits, '-' and '.')")
    if not SECRET_KEY_NAME.match(secret_key or ""):
        raise ConfigurationError(f"api_key_secret_key={secret_key!r} is not a key of a "
                                 "Secret (letters, digits, '-', '_' and '.')")
    if pull_policy not in PULL_POLICIES:
        raise ConfigurationError(f"image_pull_policy={pull_policy!r} is not one of "
                                 f"{', '.join(PULL_POLICIES)}")


def _labels(run: FlowRun, deployment: Deployment) -> dict[str, str]:
    found = {
        "app.kubernetes.io/managed-by": "orkest",
        RUN_ID_LABEL: run.id,
        "orkest.io/flow-run-name": label_value(run.name),
        "orkest.io/flow": label_value(run.flow_name),
        "orkest.io/deployment-id": deployment.id,
        "orkest.io/work-pool": label_value(deployment.work_pool),
        "orkest.io/attempt": str(run.run_count + 1),
    }
    return {key: value for key, value in found.items() if value}


def _extra_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    extra = dict(labels or {})
    for key, value in extra.items():
        problem = label_problem(key, value)
        if problem:
            raise ConfigurationError(f"labels[{key!r}]: {problem}")
    return extra


def _env(run: FlowRun, api_url: str, secret: str, secret_key: str,
         extra: Mapping[str, str] | None) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [
        {"name": "ORKEST_API_URL", "value": api_url},
        {"name": "ORKEST_API_KEY",
         "valueFrom": {"secretKeyRef": {"name": secret, "key": secret_key}}},
        {"name": "ORKEST_FLOW_RUN_ID", "value": run.id},
        {"name": "ORKEST_HOME", "value": "/tmp/orkest"},  # the pod's own; holds no database
    ]
    taken = {e["name"] for e in entries}
    for name, value in (extra or {}).items():
        if name in taken:
            raise ConfigurationError(f"env[{name!r}]: orkest sets {name} itself (from "
                                     "api_url, api_key_secret and the run)")
        if is_secret_env(name):
            raise ConfigurationError(
                f"env[{name!r}] holds a secret: secrets reach the pod only from a Kubernetes "
                "Secret (valueFrom.secretKeyRef in the template), never as a value")
        if not isinstance(value, str):
            raise ConfigurationError(f"env[{name!r}] must be a string, got "
                                     f"{type(value).__name__}")
        entries.append({"name": name, "value": value})
    return entries


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value
