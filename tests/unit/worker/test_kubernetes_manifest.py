"""The Kubernetes Job manifest of a flow run: rendering, name rules, secrets, bad templates.

No cluster is involved (docs/kubernetes.md is a design): these tests check the dict that a
Kubernetes work pool would send, field by field.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orkest._internal import masking
from orkest.core.deployments import Deployment
from orkest.core.records import FlowRun
from orkest.core.states import StateType
from orkest.errors import ConfigurationError, TemplateError
from orkest.worker.kubernetes import (
    DEFAULT_JOB_TEMPLATE,
    RUN_ID_LABEL,
    job_name,
    label_value,
    render_job_manifest,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
RUN_ID = "3f2a9c1e-1111-4222-8333-444455556666"
API = "http://orkest.orkest.svc:4200/api"


def make_run(name: str = "proud-quail", run_id: str = RUN_ID, run_count: int = 0,
             **fields: Any) -> FlowRun:
    now = time.time()
    return FlowRun(id=run_id, flow_name="nightly-etl", name=name,
                   state_type=StateType.PENDING, state_name="Pending", state_ts=now,
                   created_ts=now, deployment_id="dep-1", run_count=run_count,
                   work_pool="k8s", **fields)


DEPLOYMENT = Deployment(id="dep-1", flow_name="nightly-etl", name="prod",
                        entrypoint="/app/flows.py:nightly_etl", created_ts=0.0,
                        updated_ts=0.0, work_pool="k8s", tags=["etl", "gpu"])


def render(run: FlowRun | None = None, **options: Any) -> dict[str, Any]:
    options.setdefault("image", "registry.example.com/etl:1.4")
    options.setdefault("api_url", API)
    return render_job_manifest(run or make_run(), DEPLOYMENT, **options)


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    (only,) = manifest["spec"]["template"]["spec"]["containers"]
    return only


@pytest.fixture
def no_masking() -> Iterator[None]:
    masking.reset()
    yield
    masking.reset()


def test_the_default_template_renders_one_job_that_runs_the_flow_run() -> None:
    manifest = render(namespace="data", active_deadline_seconds=3600,
                      ttl_seconds_after_finished=600, service_account_name="etl-runner",
                      resources={"requests": {"cpu": "500m", "memory": "512Mi"},
                                 "limits": {"memory": "1Gi"}},
                      labels={"team": "data"}, env={"LOG_FORMAT": "json"})
    assert manifest["apiVersion"] == "batch/v1" and manifest["kind"] == "Job"
    assert manifest["metadata"]["name"] == "orkest-proud-quail-3f2a9c1e-1"
    assert manifest["metadata"]["namespace"] == "data"
    spec = manifest["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 3600 and spec["ttlSecondsAfterFinished"] == 600
    pod = spec["template"]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["serviceAccountName"] == "etl-runner"
    for labels in (manifest["metadata"]["labels"], pod["metadata"]["labels"]):
        assert labels == {
            "app.kubernetes.io/managed-by": "orkest", RUN_ID_LABEL: RUN_ID,
            "orkest.io/flow-run-name": "proud-quail", "orkest.io/flow": "nightly-etl",
            "orkest.io/deployment-id": "dep-1", "orkest.io/work-pool": "k8s",
            "orkest.io/attempt": "1", "team": "data"}
    assert manifest["metadata"]["annotations"] == {
        "orkest.io/flow-run-name": "proud-quail", "orkest.io/deployment": "nightly-etl/prod"}
    flow = container(manifest)
    assert flow["name"] == "flow" and flow["image"] == "registry.example.com/etl:1.4"
    assert flow["imagePullPolicy"] == "IfNotPresent"
    assert flow["command"] == ["python", "-m", "orkest.worker.execute", RUN_ID]
    assert flow["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"},
                                 "limits": {"memory": "1Gi"}}
    assert flow["env"] == [
        {"name": "ORKEST_API_URL", "value": API},
        {"name": "ORKEST_API_KEY",
         "valueFrom": {"secretKeyRef": {"name": "orkest-api-key", "key": "api-key"}}},
        {"name": "ORKEST_FLOW_RUN_ID", "value": RUN_ID},
        {"name": "ORKEST_HOME", "value": "/tmp/orkest"},
        {"name": "LOG_FORMAT", "value": "json"}]
    assert json.loads(json.dumps(manifest)) == manifest  # plain data, ready to send


def test_fields_left_unset_are_left_out_not_sent_as_null() -> None:
    manifest = render(ttl_seconds_after_finished=None)
    assert "activeDeadlineSeconds" not in manifest["spec"]
    assert "ttlSecondsAfterFinished" not in manifest["spec"]
    assert "serviceAccountName" not in manifest["spec"]["template"]["spec"]
    assert "resources" not in container(manifest)
    assert "null" not in json.dumps(manifest)


def test_the_api_key_secret_is_referenced_by_the_names_given() -> None:
    env = container(render(api_key_secret="orkest.prod-key", api_key_secret_key="token"))["env"]
    (entry,) = [e for e in env if e["name"] == "ORKEST_API_KEY"]
    assert entry == {"name": "ORKEST_API_KEY", "valueFrom": {
        "secretKeyRef": {"name": "orkest.prod-key", "key": "token"}}}


@pytest.mark.parametrize("name", [
    "proud-quail",
    "x" * 300,
    "Nightly ETL: Q3/2024 (re-run #2)",
    "Ünïcödé café",
    "名前だけ",
    "---",
    "a" * 60 + "-" + "b" * 60,
    "dots.and_underscores__",
    "",
])
def test_job_names_are_dns_labels_whatever_the_run_is_called(name: str) -> None:
    manifest = render(make_run(name))
    job = manifest["metadata"]["name"]
    assert len(job) <= 63 and DNS_LABEL.match(job), job
    assert job.startswith("orkest-") and job.endswith("-3f2a9c1e-1")
    for value in manifest["metadata"]["labels"].values():
        assert len(value) <= 63 and LABEL_VALUE.match(value), value
    # The exact name survives where Kubernetes allows any text.
    assert manifest["metadata"]["annotations"]["orkest.io/flow-run-name"] == name


def test_readable_parts_of_odd_names_are_kept() -> None:
    assert job_name(make_run("Nightly ETL: Q3/2024")) == "orkest-nightly-etl-q3-2024-3f2a9c1e-1"
    assert job_name(make_run("Ünïcödé café")) == "orkest-unicode-cafe-3f2a9c1e-1"
    assert job_name(make_run("名前だけ")) == "orkest-run-3f2a9c1e-1"
    assert label_value("-Nightly ETL: Q3/2024.") == "Nightly-ETL-Q3-2024"


def test_runs_and_attempts_never_share_a_job_name() -> None:
    first = job_name(make_run("same-name", run_id="aaaaaaaa-0000-4000-8000-000000000000"))
    other = job_name(make_run("same-name", run_id="bbbbbbbb-0000-4000-8000-000000000000"))
    retry = job_name(make_run("same-name", run_id="aaaaaaaa-0000-4000-8000-000000000000",
                              run_count=1))
    assert len({first, other, retry}) == 3
    assert retry.endswith("-aaaaaaaa-2")
    labels = render(make_run(run_count=2))["metadata"]["labels"]
    assert labels["orkest.io/attempt"] == "3"


def test_a_run_name_cannot_change_the_shape_of_the_manifest() -> None:
    evil = 'x"\nkind: Pod\nspec: {hostNetwork: true}\n# {{ 7 * 7 }}'
    manifest = render(make_run(evil))
    assert manifest["kind"] == "Job"
    assert set(manifest) == {"apiVersion", "kind", "metadata", "spec"}
    assert "hostNetwork" not in manifest["spec"]["template"]["spec"]
    # Kept verbatim where any text is allowed, and never rendered as a template itself.
    assert manifest["metadata"]["annotations"]["orkest.io/flow-run-name"] == evil


def test_no_secret_value_reaches_the_manifest(monkeypatch: pytest.MonkeyPatch,
                                              no_masking: None) -> None:
    key = "sk-live-0123456789abcdef"
    monkeypatch.setenv("ORKEST_API_KEY", key)
    masking.register("hunter2-database-password")
    text = json.dumps(render())
    assert key not in text and "hunter2" not in text
    assert "secretKeyRef" in text


def test_a_secret_value_in_the_manifest_is_refused_without_repeating_it(
        monkeypatch: pytest.MonkeyPatch, no_masking: None) -> None:
    masking.register("hunter2-database-password")
    with pytest.raises(TemplateError, match="holds a secret value") as caught:
        render(env={"DB_URL": "postgresql://etl:hunter2-database-password@db/etl"})
    assert "hunter2" not in str(caught.value)
    key = "sk-live-0123456789abcdef"
    monkeypatch.setenv("ORKEST_API_KEY", key)
    with pytest.raises(TemplateError, match="holds a secret value") as caught:
        render(labels={"leak": key})
    assert key not in str(caught.value)


@pytest.mark.parametrize(("name", "message"), [
    ("ORKEST_API_KEY", "orkest sets ORKEST_API_KEY itself"),
    ("ORKEST_API_URL", "orkest sets ORKEST_API_URL itself"),
    ("ORKEST_SECRET_DB", "holds a secret: secrets reach the pod only from a Kubernetes Secret"),
    ("ORKEST_SECRET_KEY", "holds a secret"),
])
def test_secrets_and_orkest_variables_cannot_be_passed_as_plain_env(name: str,
                                                                    message: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"env\['{name}'\].*{message}"):
        render(env={name: "value"})


@pytest.mark.parametrize(("options", "message"), [
    ({"active_deadline_seconds": 0}, r"spec\.activeDeadlineSeconds: must be at least 1"),
    ({"ttl_seconds_after_finished": -1}, r"spec\.ttlSecondsAfterFinished: must be at least 0"),
    ({"active_deadline_seconds": "1h"}, r"activeDeadlineSeconds: must be an integer, got str"),
])
def test_deadlines_and_ttls_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(**options)


def test_a_template_that_writes_the_api_key_as_a_value_is_refused() -> None:
    template = DEFAULT_JOB_TEMPLATE.replace(
        'env: "{{ env }}"', 'env: [{name: ORKEST_API_KEY, value: "{{ api_url }}"}]')
    with pytest.raises(TemplateError, match=r"containers\[0\]\.env\[0\]: ORKEST_API_KEY must "
                                            r"come from a Secret"):
        render(template=template)


def test_a_custom_template_sees_the_run_and_the_deployment() -> None:
    template = DEFAULT_JOB_TEMPLATE.replace(
        "      restartPolicy: Never\n",
        "      restartPolicy: Never\n"
        "      nodeSelector:\n"
        "        pool: \"{{ deployment.work_pool }}\"\n"
        "        gpu: \"{{ 'true' if 'gpu' in deployment.tags else 'false' }}\"\n"
        "        size: \"{{ flow_run.parameters.size }}\"\n")
    manifest = render(make_run(parameters={"size": "large"}), template=template)
    assert manifest["spec"]["template"]["spec"]["nodeSelector"] == {
        "pool": "k8s", "gpu": "true", "size": "large"}


@pytest.mark.parametrize(("change", "message"), [
    (('image: "{{ image }}"', "image: {{ image }}"),
     r"not valid YAML on line \d+, column \d+: .*Quote every value that starts with '\{\{'"),
    (('image: "{{ image }}"', 'image: "{{ imgae }}"'),
     r"containers\[0\]\.image.*'imgae' is undefined; did you mean 'image'\?"),
    (('image: "{{ image }}"', 'image: "{{ image "'),
     r"containers\[0\]\.image.*syntax error"),
    (('image: "{{ image }}"', "image: \"{{ ''.__class__.__mro__ }}\""),
     r"sandbox"),
    (("backoffLimit: 0", "backoffLimit: 3"),
     r"spec\.backoffLimit: must be 0: orkest retries flow runs itself"),
    (("restartPolicy: Never", "restartPolicy: OnFailure"),
     r"restartPolicy: must be Never, got 'OnFailure'"),
    (('name: "{{ name }}"', 'name: "Run_{{ name }}"'),
     r"metadata\.name: 'Run_orkest-.*' is not a DNS-1123 label"),
    (("kind: Job", "kind: Pod"), r"must be batch/v1 Job"),
    (('labels: "{{ labels }}"\n  annotations', 'labels: {team: data}\n  annotations'),
     r"metadata\.labels\['orkest.io/flow-run-id'\]: must be the run's id"),
    (('command: "{{ command }}"', 'command: ["python", "-m", "orkest.worker.execute"]'),
     r"no container's command or args holds the run's id"),
    (('resources: "{{ resources }}"', "resources: {limits: {memory: lots}}"),
     r"resources\.limits\.memory: 'lots' is not a quantity"),
])
def test_a_bad_template_gives_an_error_naming_the_problem(change: tuple[str, str],
                                                          message: str) -> None:
    old, new = change
    assert old in DEFAULT_JOB_TEMPLATE
    with pytest.raises(TemplateError, match=message):
        render(template=DEFAULT_JOB_TEMPLATE.replace(old, new, 1))


@pytest.mark.parametrize("template", ["- just\n- a list\n", "", "plain words"])
def test_a_template_that_is_not_a_mapping_is_refused(template: str) -> None:
    with pytest.raises(TemplateError, match="must be a YAML mapping"):
        render(template=template)


def test_a_template_without_containers_is_refused() -> None:
    start = DEFAULT_JOB_TEMPLATE.index("      containers:")
    with pytest.raises(TemplateError, match=r"spec\.template\.spec\.containers: must be a list"):
        render(template=DEFAULT_JOB_TEMPLATE[:start])


@pytest.mark.parametrize(("options", "message"), [
    ({"namespace": "Data_Team"}, r"namespace='Data_Team' is not a Kubernetes namespace"),
    ({"image": ""}, r"image='' is not a container image reference"),
    ({"image": "etl latest"}, r"image='etl latest'"),
    ({"api_url": "orkest:4200"}, r"api_url='orkest:4200' is not an http\(s\) URL"),
    ({"api_key_secret": "Not A Secret"}, r"api_key_secret='Not A Secret' is not a Secret"),
    ({"api_key_secret_key": "a/b"}, r"api_key_secret_key='a/b'"),
    ({"image_pull_policy": "Sometimes"}, r"image_pull_policy='Sometimes' is not one of"),
    ({"labels": {"bad key!": "x"}}, r"labels\['bad key!'\]: the key name"),
    ({"labels": {"team": "x" * 64}}, r"labels\['team'\]: the value"),
])
def test_bad_arguments_are_configuration_errors_naming_them(options: dict[str, Any],
                                                            message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        render(**options)


def test_a_run_of_another_deployment_is_refused() -> None:
    run = make_run()
    run.deployment_id = "someone-else"
    with pytest.raises(ConfigurationError, match="belongs to deployment someone-else"):
        render(run)


# -- docs/kubernetes.md shows what the code does ------------------------------------------

DOC = Path(__file__).resolve().parents[3] / "docs" / "kubernetes.md"


def test_the_design_page_shows_the_default_template_verbatim() -> None:
    text = DOC.read_text()
    assert "**Status: a design, not a feature.**" in text
    assert f"```yaml\n{DEFAULT_JOB_TEMPLATE}```" in text


def test_the_design_pages_rendered_example_is_what_the_code_renders() -> None:
    import yaml

    block = DOC.read_text().split("<!-- rendered-example -->\n```yaml\n", 1)[1]
    shown = yaml.safe_load(block.split("```", 1)[0])
    deployment = Deployment(id="5b0e7d2c-8f7a-4c1e-9d3b-2a6f1e0c4b9d",
                            flow_name="nightly-etl", name="prod",
                            entrypoint="/app/flows/etl.py:nightly_etl", created_ts=0.0,
                            updated_ts=0.0, work_pool="k8s")
    run = make_run(run_id="3f2a9c1e-6b4d-4e8f-a1c2-7d9e0b5a3c61")
    run.deployment_id = deployment.id
    rendered = render_job_manifest(
        run, deployment, image="registry.example.com/etl:1.4", namespace="data",
        api_url="http://orkest.orkest.svc:4200/api", active_deadline_seconds=7200,
        resources={"requests": {"cpu": "500m", "memory": "512Mi"},
                   "limits": {"memory": "1Gi"}})
    assert shown == rendered
