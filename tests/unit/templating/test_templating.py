"""Sandboxed Jinja rendering: values, native results, actionable errors, cache, macros."""

from __future__ import annotations

import collections
import datetime as dt
from typing import Any

import pytest

from orkest.errors import OrkestError, TemplateError
from orkest.templating import build_macros, compiling, render, render_native, render_structure


@pytest.fixture
def context() -> dict[str, Any]:
    return {"ds": "2024-01-31", "params": {"table": "events", "n": 3, "nested": {"k": "v"}},
            "rows": [1, 2], "macros": build_macros()}


def error_of(call: Any, *args: Any, **kwargs: Any) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        call(*args, **kwargs)
    return info.value


# -- rendering ---------------------------------------------------------------------------


def test_render_substitutes_values_and_keeps_the_trailing_newline(context: dict) -> None:
    out = render("load {{ ds }} into {{ params.table }}\n", context, name="cmd")
    assert out == "load 2024-01-31 into events\n"


def test_params_dict_keys_are_reachable_as_attributes_and_items(context: dict) -> None:
    out = render("{{ params.nested.k }}/{{ params['n'] * 2 }}", context, name="cmd")
    assert out == "v/6"


def test_no_html_escaping(context: dict) -> None:
    assert render("{{ '<a & b>' }}", context, name="cmd") == "<a & b>"


def test_plain_strings_are_returned_untouched(context: dict) -> None:
    text = "no markup here, even a lone { brace\r\n"
    assert render(text, context, name="cmd") is text
    assert render_native(text, context, name="cmd") is text


def test_a_non_string_template_is_a_type_error(context: dict) -> None:
    with pytest.raises(TypeError, match="'cmd' of task 't': expected a str, got int"):
        render(5, context, name="cmd", task_id="t")  # type: ignore[arg-type]


# -- native values -----------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ rows }}", [1, 2]),
    ("  {{ params.n + 1 }}\n", 4),
    ("{{ {'a': params.n, 'b': rows} }}", {"a": 3, "b": [1, 2]}),
    ("{{- rows + [params.n] -}}", [1, 2, 3]),
    ("{{ none }}", None),
])
def test_a_single_expression_gives_its_python_value(template: str, expected: Any,
                                                    context: dict) -> None:
    assert render_native(template, context, name="rows") == expected


def test_native_list_is_the_context_object_itself(context: dict) -> None:
    assert render_native("{{ rows }}", context, name="rows") is context["rows"]


@pytest.mark.parametrize("template", ["n={{ params.n }}", "{{ params.n }}{{ params.n }}",
                                      "{% if true %}{{ params.n }}{% endif %}"])
def test_anything_but_one_expression_renders_to_text(template: str, context: dict) -> None:
    value = render_native(template, context, name="n")
    assert isinstance(value, str)
    assert "3" in value


def test_native_expression_still_rejects_undefined_names(context: dict) -> None:
    err = error_of(render_native, "{{ missing }}", context, name="n", task_id="t")
    assert "'missing' is undefined" in str(err)
    err = error_of(render_native, "{{ [1, {'k': missing}] }}", context, name="n")
    assert "'missing' is undefined" in str(err)


# -- errors ------------------------------------------------------------------------------


def test_undefined_name_names_template_task_and_the_name(context: dict) -> None:
    err = error_of(render, "echo {{ foo }}", context, name="bash_command", task_id="extract")
    assert str(err) == ("Template 'bash_command' of task 'extract': 'foo' is undefined "
                        '(in "echo {{ foo }}")')
    assert isinstance(err, OrkestError) and isinstance(err, ValueError)
    assert type(err.__cause__).__module__.startswith("jinja2")


def test_undefined_name_suggests_a_close_context_name(context: dict) -> None:
    err = error_of(render, "{{ dss }}", context, name="cmd")
    assert str(err).startswith("Template 'cmd': 'dss' is undefined; did you mean 'ds'?")


def test_undefined_inside_a_printed_list_is_an_error_not_the_text_undefined(
        context: dict) -> None:
    err = error_of(render, "{{ [missing] }}", context, name="cmd")
    assert "'missing' is undefined" in str(err)


def test_missing_attribute_names_the_object_and_the_attribute(context: dict) -> None:
    err = error_of(render, "{{ params.missing }}", context, name="sql", task_id="load")
    message = str(err)
    assert message.startswith("Template 'sql' of task 'load': 'params' has no attribute "
                              "'missing'")
    assert "its keys: table, n, nested" in message
    assert "dict object" not in message


def test_missing_attribute_suggests_the_close_key(context: dict) -> None:
    err = error_of(render, "SELECT * FROM {{ params.tabel }}", context, name="sql")
    assert "'params' has no attribute 'tabel'; did you mean 'table'?" in str(err)


def test_missing_nested_key_and_list_index_name_their_path(context: dict) -> None:
    err = error_of(render, "{{ params.nested['x'] }}", context, name="sql")
    assert "'params.nested' has no attribute 'x' (its keys: k)" in str(err)
    err = error_of(render, "{{ rows[5] }}", context, name="sql")
    assert "'rows' has no element 5" in str(err)


def test_syntax_error_gives_line_number_and_jinja_message(context: dict) -> None:
    err = error_of(render, "echo one\necho {{ two }\n", context, name="cmd", task_id="t")
    message = str(err)
    assert "Template 'cmd' of task 't': syntax error on line 2: unexpected '}'" in message
    assert '(line 2: "echo {{ two }")' in message


def test_runtime_error_in_a_multiline_template_shows_its_line(context: dict) -> None:
    err = error_of(render, "set -e\necho {{ nope }}\nexit 0", context, name="cmd")
    assert str(err) == "Template 'cmd': 'nope' is undefined (line 2: \"echo {{ nope }}\")"


@pytest.mark.parametrize("template", ["{{ ''.__class__.__mro__ }}",
                                      "{{ macros.ds_add.__globals__ }}",
                                      "{{ params.update({'n': 0}) }}"])
def test_sandbox_escapes_are_rejected(template: str, context: dict) -> None:
    for call in (render, render_native):
        err = error_of(call, template, context, name="cmd", task_id="t")
        assert "is unsafe; templates run in a sandbox and this is not allowed" in str(err)
    assert context["params"]["n"] == 3


def test_other_exceptions_are_wrapped_with_their_type(context: dict) -> None:
    err = error_of(render, "{{ 1 / 0 }}", context, name="cmd")
    assert "ZeroDivisionError: division by zero" in str(err)
    assert isinstance(err.__cause__, ZeroDivisionError)


def test_long_templates_are_shortened_in_messages(context: dict) -> None:
    err = error_of(render, "x" * 500 + "{{ nope }}", context, name="cmd")
    assert len(str(err)) < 250


# -- structures --------------------------------------------------------------------------


def test_render_structure_renders_nested_strings_but_not_keys(context: dict) -> None:
    Pair = collections.namedtuple("Pair", "left right")
    value = {"{{ ds }}": ["{{ params.n }}", ("{{ ds }}", 7)], "p": Pair("{{ rows }}", None)}
    out = render_structure(value, context, name="op_kwargs")
    assert out == {"{{ ds }}": ["3", ("2024-01-31", 7)], "p": Pair("[1, 2]", None)}
    assert isinstance(out["p"], Pair)
    assert value["p"].left == "{{ rows }}"  # the input is not modified


def test_render_structure_native(context: dict) -> None:
    out = render_structure({"rows": "{{ rows }}", "n": ["{{ params.n }}"]}, context,
                           name="with", native=True)
    assert out == {"rows": [1, 2], "n": [3]}


@pytest.mark.parametrize(("value", "where"), [
    ({"path": "{{ nope }}"}, "op_kwargs.path"),
    ({"env": {"FOO": "{{ nope }}"}}, "op_kwargs.env.FOO"),
    ({"rows": ["ok", "{{ nope }}"]}, "op_kwargs.rows[1]"),
    ({1: "{{ nope }}"}, "op_kwargs[1]"),
])
def test_render_structure_errors_name_the_path(value: Any, where: str, context: dict) -> None:
    err = error_of(render_structure, value, context, name="op_kwargs", task_id="t")
    assert str(err).startswith(f"Template '{where}' of task 't': 'nope' is undefined")


# -- cache -------------------------------------------------------------------------------


def test_compiled_templates_are_reused(context: dict) -> None:
    compiling.compile_text.cache_clear()
    first = render("{{ ds }}-{{ params.n }}", context, name="a")
    second = render("{{ ds }}-{{ params.n }}", {**context, "ds": "2024-02-01"}, name="a")
    assert (first, second) == ("2024-01-31-3", "2024-02-01-3")
    info = compiling.compile_text.cache_info()
    assert (info.misses, info.hits) == (1, 1)


def test_the_cache_is_bounded() -> None:
    compiling.compile_text.cache_clear()
    size = compiling.compile_text.cache_info().maxsize
    assert size == compiling.CACHE_SIZE
    for i in range(size + 20):
        assert render(f"{{{{ x }}}}-{i}", {"x": "v"}, name="a") == f"v-{i}"
    assert compiling.compile_text.cache_info().currsize == size


# -- macros ------------------------------------------------------------------------------


def test_macros_ds_add_and_ds_format(context: dict) -> None:
    out = render("{{ macros.ds_add(ds, 1) }} {{ macros.ds_add(ds, -31) }} "
                 "{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}", context, name="cmd")
    assert out == "2024-02-01 2023-12-31 31/01/2024"


def test_macros_datetime_and_timedelta(context: dict) -> None:
    value = render_native("{{ macros.datetime(2024, 1, 1) + macros.timedelta(days=2) }}",
                          context, name="when")
    assert value == dt.datetime(2024, 1, 3)


def test_macro_failure_is_a_template_error(context: dict) -> None:
    err = error_of(render, "{{ macros.ds_add('31/01/2024', 1) }}", context, name="cmd")
    assert "ValueError: time data '31/01/2024' does not match format" in str(err)
