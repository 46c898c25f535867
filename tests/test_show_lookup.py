"""`kam show` finds accounts exactly as Ask does (short names, typos, Chinese names) and takes the dimension names
of Ask's vocabulary in both languages."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from cli.context import reset_context
from cli.main import app
from skills.ask.resolve import name_table, resolve


def _typo(name: str) -> str:
    """The longest word of a Latin name with two inner letters swapped, as a hurried rep types it."""
    word = max(name.split(), key=len)
    i = len(word) // 2
    return name.replace(word, word[:i - 1] + word[i] + word[i - 1] + word[i + 1:], 1)


def _variants(name: str) -> list[str]:
    """Ways a rep names an account that are not its exact name or an alias."""
    if re.search(r"[\u4e00-\u9fff]", name):
        return [re.sub(r"(股份)?有限公司$|集团$", "", name)]  # "江南乳业" for "江南乳业股份有限公司"
    return [name.lower().rstrip("."), _typo(name)]


@pytest.fixture()
def cli(sample_kb):
    settings, store, index = sample_kb
    index.close()  # the command opens it itself
    reset_context(settings)
    runner = CliRunner()
    yield store, lambda *args: runner.invoke(app, list(args))
    reset_context()


def test_show_finds_every_account_as_ask_does(cli):
    store, kam = cli
    table = name_table(store)
    checked = 0
    for summary in store.summaries():
        for variant in _variants(summary.name):
            asked = resolve(f"who is the decision maker at {variant}?", table, None).visible
            result = kam("show", variant, "--json")
            assert result.exit_code == 0, (variant, result.output)
            assert json.loads(result.stdout)["id"] == summary.id, variant
            assert asked == [summary.id], variant  # Ask reads the same name the same way
            checked += 1
    assert checked >= 28


@pytest.mark.parametrize(("word", "dimension"), [
    ("suppliers", "suppliers"), ("vendors", "suppliers"), ("供应商", "suppliers"), ("organization", "organisation"),
    ("组织", "organisation"), ("财务", "finance"), ("downstream customers", "downstream"), ("下游", "downstream"),
    ("competition", "competitors"), ("背景", "background")])
def test_show_takes_dimension_names_in_both_languages(cli, word, dimension):
    _, kam = cli
    result = kam("show", "寒山", "--dimension", word, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["account"] == "Hanshan Packaging Co." and dimension in shown
    assert not {"background", "finance", "organisation", "competitors", "suppliers", "downstream"} - {dimension} \
        & set(shown)


def test_show_says_what_it_could_not_find(cli):
    _, kam = cli
    missing = kam("show", "Zanzibar Widgets")
    assert missing.exit_code == 1 and "no account named 'Zanzibar Widgets'" in missing.output
    bad = kam("show", "hanshan", "--dimension", "weather")
    assert bad.exit_code == 1 and "unknown dimension 'weather'" in bad.output and "供应商" in bad.output
