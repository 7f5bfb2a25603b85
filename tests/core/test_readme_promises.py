"""What the README and docs/ show is what the code does: every `dabench ...` command they show parses, every
run id they print is the id dabench plans for that run today (plan only, nothing trains), the command
reference lists every command with exactly its options, and the README's test command is the one CI runs."""

from __future__ import annotations

import inspect
import os
import re
import shlex
from contextlib import ExitStack
from pathlib import Path

import click
import pytest

from dabench.cli import _hoist_debug, cli

ROOT = Path(__file__).resolve().parents[2]
# as tests/conftest.py finds it: $DABENCH_TEST_DATA, else ../shared/data beside the checkout
SHARED_DATA = Path(os.environ.get("DABENCH_TEST_DATA") or ROOT.parent / "shared" / "data")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
REFERENCE = ROOT / "docs" / "cli-reference.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUN_ID = re.compile(r"(?<![\w-])[0-9a-f]{16}(?![\w-])")  # a word of its own: not part of a hash or a name
# how a run id is printed: `dabench run`'s last line, and a run named in `dabench status` / sweep output
RUN_LINE = re.compile(r"; run (?P<id>[0-9a-f]{16}) in \S*runs/(?P=id)")
STATUS_LINE = re.compile(r"(?P<method>[\w-]+) (?P<pair>[\w-]+:[\w-]+) seed (?P<seed>\d+) \(run (?P<id>[0-9a-f]{16})\)")
SEPARATORS = {"&&", "||", ";", "|", "&"}
UNREADABLE = "<not a shell line>"


def _page(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _simple_commands(line: str) -> list[list[str]]:
    """The `dabench` commands of one shell line (`a && b`, `X=1 dabench ...`, a trailing comment)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands, current = [], []
    try:
        tokens = [*lexer, ";"]
    except ValueError as exc:  # an unclosed quote: no shell runs it; the test of the page says so
        return [[UNREADABLE, f"{line} ({exc})"]] if re.search(r"(^|\s)dabench\s", line) else []
    for token in tokens:
        if token in SEPARATORS:
            while current and re.fullmatch(r"[A-Za-z_]\w*=.*", current[0]):  # VAR=value before the command
                current.pop(0)
            if current and current[0] == "dabench":
                commands.append(current[1:])
            current = []
        else:
            current.append(token)
    return commands


def _shell_lines(language: str, body: str) -> list[str]:
    """The command lines of a fenced block: `$ ...` lines of a console block, every line of a shell block."""
    lines = body.replace("\\\n", " ").splitlines()
    if language == "console":
        return [line[2:] for line in lines if line.startswith("$ ")]
    if language in ("bash", "sh", "shell", ""):
        return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return []


def shown_commands(text: str) -> list[tuple[list[str], bool]]:
    """Every `dabench` command a page shows, with whether it is inline prose: in console and shell blocks,
    and inline (`dabench list methods`). An inline synopsis with placeholders in brackets, alternatives or
    an ellipsis is the reference's, tested below, not a command."""
    commands = []
    for language, body in FENCE.findall(text):
        for line in _shell_lines(language, body):
            commands.extend((args, False) for args in _simple_commands(line))
    prose = FENCE.sub("", text)
    for span in re.findall(r"`(dabench [^`]+)`", prose):
        if not re.search(r"[\[\]|()<>]|\.\.\.|…", span):
            commands.extend((args, True) for args in _simple_commands(span))
    return commands


def command_path(args: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The subcommand names at the front of ``args`` (as the click tree has them), and the rest."""
    command: click.Command = cli
    path: list[str] = []
    rest = _hoist_debug(list(args))[1]
    rest = [arg for arg in rest if arg != "--debug"]
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command = command.commands[rest[0]]
        path.append(rest.pop(0))
    return tuple(path), rest


def parse(args: list[str], stack: ExitStack) -> click.Context:
    """Resolve a command line through the click tree as `dabench` would, down to the command's own context
    (options parsed and converted, their callbacks run), without invoking it."""
    args = _hoist_debug(list(args))[1]
    ctx = stack.enter_context(cli.make_context("dabench", args))
    command: click.Command = cli
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None, f"no command {name!r}"
        command = sub
        ctx = stack.enter_context(command.make_context(name, rest, parent=ctx))
    return ctx


def _cases() -> list:
    return [pytest.param(_page(page), args, inline, id=f"{_page(page)}: dabench {' '.join(args)}"[:120])
            for page in PAGES for args, inline in shown_commands(page.read_text())]


def test_the_pages_show_commands() -> None:
    """The extraction itself: the README's example, a chained line, an environment prefix and a comment."""
    shown = shown_commands("```bash\npip install -e . && dabench run -m tent -p a:b  # one run\n"
                           "DABENCH_DATA=x dabench data check fer2013\n```\n"
                           "```console\n$ dabench status\nsweep ... 1 running\n```\n"
                           "Then `dabench report leaderboard` or `dabench list methods\\|datasets`.\n")
    assert shown == [(["run", "-m", "tent", "-p", "a:b"], False), (["data", "check", "fer2013"], False),
                     (["status"], False), (["report", "leaderboard"], True)]
    unreadable = shown_commands("```bash\ndabench run -m tent --set 'a=b\necho 'not ours\n```\n")
    assert unreadable == [([UNREADABLE, "dabench run -m tent --set 'a=b (No closing quotation)"], False)]
    readme = [args[0] for args, _ in shown_commands((ROOT / "README.md").read_text())]
    assert "run" in readme


@pytest.mark.parametrize(("page", "args", "inline"), _cases())
def test_every_shown_command_parses(page: str, args: list[str], inline: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    assert args[0] != UNREADABLE, f"{page} shows a dabench command no shell can read: {args[1]}"
    path, rest = command_path(args)
    if inline and not rest:  # prose naming a command (`dabench run`, `dabench data check`): it must exist
        assert path == tuple(args) and path in _leaf_commands() | _groups(), f"{page} names `dabench {' '.join(args)}`"
        return
    if any(arg.startswith("--data-root") for arg in args):  # its callback checks the folder it names
        monkeypatch.setenv("DABENCH_DATA", str(SHARED_DATA))
        if not SHARED_DATA.is_dir():
            pytest.skip(f"real FER data not found at {SHARED_DATA}")
    with ExitStack() as stack:
        try:
            parse(args, stack)
        except click.exceptions.Exit as done:  # --help and the like
            assert done.exit_code == 0
        except click.ClickException as exc:
            pytest.fail(f"{page} shows `dabench {shlex.join(args)}`, which dabench refuses: {exc.format_message()}")


def test_a_command_that_does_not_parse_fails() -> None:
    with ExitStack() as stack, pytest.raises(click.NoSuchOption, match="No such option '--seeds'"):
        parse(["run", "-m", "tent", "-p", "synth-lab:synth-wild", "--seeds", "0,1"], stack)
    with ExitStack() as stack, pytest.raises(click.UsageError, match="No such command 'leaderbord'"):
        parse(["report", "leaderbord"], stack)


# ---------------------------------------------------------------------------------------------- run ids
def printed_runs(text: str) -> list[tuple[str, dict]]:
    """(run id, what plans it) for every run id a page prints. The plan is the run's method, pair and seed,
    with the backbone, config files and --set of the command the block shows before it. A run id printed
    any other way is returned with an empty plan, so that the test fails until it is taught the form."""
    found = []
    for language, body in FENCE.findall(text):
        command: dict = {}
        for line in body.replace("\\\n", " ").splitlines():
            if language == "console" and line.startswith("$ "):
                for args in _simple_commands(line[2:]):
                    if args and args[0] in ("run", "sweep"):
                        with ExitStack() as stack:
                            command = dict(parse(args, stack).params)
            for match in RUN_LINE.finditer(line):
                found.append((match["id"], {**command, "sets": tuple(command.get("sets", ()))}))
            for match in STATUS_LINE.finditer(line):
                found.append((match["id"], {**command, "method": match["method"], "pair": match["pair"],
                                            "seed": int(match["seed"])}))
            known = {run_id for run_id, _ in found}
            found.extend((run_id, {}) for run_id in RUN_ID.findall(line) if run_id not in known)
    prose = FENCE.sub("", text)
    found.extend((run_id, {}) for run_id in RUN_ID.findall(prose))
    return found


def _run_cases() -> list:
    return [pytest.param(_page(page), run_id, plan, id=f"{_page(page)}: {run_id}")
            for page in PAGES for run_id, plan in printed_runs(page.read_text())]


def test_printed_runs_are_found() -> None:
    text = ("```console\n$ dabench sweep --pairs a:b --methods m --seeds 2 --set epochs=3\n"
            "  tent synth-lab:synth-wild seed 1 (run 0123456789abcdef): pid 5 on vm\n```\n"
            "```console\n$ dabench run -m shot -p a:b --seed 4\n"
            "shot on a:b ...; run fedcba9876543210 in ~/.dabench/runs/fedcba9876543210\n```\n"
            "and run 00112233445566ff in prose, not cache/face_resnet-55533b28a95800a5/ nor sha256 "
            "`55533b28a95800a551ba546ba62fe696`\n")
    runs = printed_runs(text)
    assert [(run_id, plan.get("method"), plan.get("pair"), plan.get("seed"), plan.get("sets")) for run_id, plan in runs] == [
        ("0123456789abcdef", "tent", "synth-lab:synth-wild", 1, ("epochs=3",)),
        ("fedcba9876543210", "shot", "a:b", 4, ()),
        ("00112233445566ff", None, None, None, None)]
    assert any(True for page in PAGES if printed_runs(page.read_text())), "no page prints a run id any more"


@pytest.mark.parametrize(("page", "run_id", "shown"), _run_cases())
def test_every_printed_run_id_is_what_dabench_plans(page: str, run_id: str, shown: dict, registry,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from dabench.run.plan import plan_run

    assert shown, (f"{page} prints run id {run_id} in a form this test cannot plan; print it as `dabench run` "
                   f"or `dabench status` does, after the command that makes it, or elide an id no user can plan "
                   f"(`{run_id[:8]}…`, as an id a test's scenario made)")
    pair = registry.pair(shown["pair"])
    if not all(registry.dataset(name).generated for name in (pair.source, pair.target)):
        if not SHARED_DATA.is_dir():
            pytest.skip(f"real FER data not found at {SHARED_DATA}")
        monkeypatch.setenv("DABENCH_DATA", str(SHARED_DATA))
    # the command's own options that name a run (a new one of plan_run's is passed on without a change here)
    named = {key: value for key, value in shown.items()
             if key in inspect.signature(plan_run).parameters and key != "registry" and value not in (None, ())}
    plan = plan_run(registry, **{**named, "config_files": tuple(named.get("config_files", ())),
                                 "sets": tuple(named.get("sets", ()))})
    assert plan.run_id == run_id, f"{page} prints run {run_id} for {shown['method']} {shown['pair']} seed " \
                                  f"{shown.get('seed', 0)}; dabench names that run {plan.run_id} today"


# ------------------------------------------------------------------------------------- command reference
def _leaf_commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    leaves: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            leaves.update(_leaf_commands(command, (*path, name)))
        elif not command.hidden:
            leaves[(*path, name)] = command
    return leaves


def _groups(group: click.Group = cli, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Group]:
    groups: dict[tuple[str, ...], click.Group] = {path: group}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            groups.update(_groups(command, (*path, name)))
    return groups


def reference_synopses(text: str) -> dict[tuple[str, ...], str]:
    """The first cell of each row of the reference's command table, by the command it names."""
    synopses = {}
    for cell in re.findall(r"^\| `(dabench [^`]+)` \|", text, flags=re.MULTILINE):
        words = cell.split()[1:]
        path: tuple[str, ...] = ()
        command: click.Command = cli
        while isinstance(command, click.Group) and words and words[0] in command.commands:
            path, command = (*path, words[0]), command.commands[words.pop(0)]
        assert path not in synopses, f"two rows for dabench {' '.join(path)}"
        synopses[path] = cell
    return synopses


def synopsis_problems(path: tuple[str, ...], command: click.Command, synopsis: str) -> list[str]:
    """What a synopsis says that the command does not take, and the options it leaves out."""
    shown = re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", synopsis.replace("\\|", "|"))
    options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
    names = {name for option in options for name in (*option.opts, *option.secondary_opts)} | {"--help", "-h"}
    problems = [f"`dabench {' '.join(path)}` takes no option {name}" for name in shown if name not in names]
    problems += [f"`dabench {' '.join(path)}`'s synopsis leaves out {'/'.join(option.opts)}"
                 for option in options if not set(option.opts + option.secondary_opts) & set(shown)]
    for option in options:
        if isinstance(option.type, click.Choice):
            for name in option.opts:
                listed = re.search(rf"(?<![\w-]){re.escape(name)} ([\w-]+(?:\\?\|[\w-]+)+)", synopsis)
                if listed and set(listed.group(1).replace("\\", "").split("|")) != set(option.type.choices):
                    problems.append(f"`dabench {' '.join(path)} {name}` takes {'|'.join(option.type.choices)}, "
                                    f"the synopsis says {listed.group(1)}")
    return problems


def test_the_reference_has_every_command_with_exactly_its_options() -> None:
    synopses = reference_synopses(REFERENCE.read_text())
    leaves = _leaf_commands()
    assert sorted(synopses) == sorted(leaves), "the command table's rows are not the commands of `dabench`"
    problems = [problem for path, command in leaves.items() for problem in synopsis_problems(path, command, synopses[path])]
    assert not problems, f"{REFERENCE.name} has drifted from the click tree:\n" + "\n".join(problems)


def test_a_drifted_synopsis_is_caught() -> None:
    sweep = cli.commands["sweep"]
    complete = reference_synopses(REFERENCE.read_text())[("sweep",)]
    assert synopsis_problems(("sweep",), sweep, complete) == []
    cut = complete.replace(" [--set KEY=VALUE]...", "")
    assert cut != complete
    assert synopsis_problems(("sweep",), sweep, cut) == ["`dabench sweep`'s synopsis leaves out --set"]
    assert synopsis_problems(("sweep",), sweep, complete + " [--colour]") == ["`dabench sweep` takes no option --colour"]
    run_synopsis = reference_synopses(REFERENCE.read_text())[("run",)]
    assert "--device auto\\|cpu\\|cuda" in run_synopsis
    assert synopsis_problems(("run",), cli.commands["run"], run_synopsis.replace("auto\\|cpu\\|cuda", "auto\\|gpu")) == \
        ["`dabench run --device` takes auto|cpu|cuda, the synopsis says auto\\|gpu"]


# ------------------------------------------------------------------------------------ the test command
def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip().startswith("python -m pytest") and "examples" not in line and "cd " not in line]
    assert ci == ['python -m pytest -q -p no:cacheprovider -m "not slow" tests']
    assert f'pip install -e ".[test,ray,plots]" && {ci[0]}' in readme


# ------------------------------------------------------------------------------------------- the pages
def broken_links(page: Path) -> list[str]:
    """The relative links of a page (outside code blocks) whose file does not exist."""
    text = FENCE.sub("", page.read_text())
    targets = [target for target in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:|#", target)]
    return [target for target in targets if not (page.parent / target.split("#")[0]).exists()]


@pytest.mark.parametrize("page", PAGES, ids=_page)
def test_every_link_reaches_a_file(page: Path) -> None:
    assert broken_links(page) == []


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("x")
    page = tmp_path / "page.md"
    page.write_text("[a](there.md) [b](gone.md#part) [c](https://example.org) [d](#here)\n```\n[e](in-code.md)\n```\n")
    assert broken_links(page) == ["gone.md#part"]


def test_the_readme_is_a_newcomers_page() -> None:
    """What it is, the two commands, one example, where to go next: every page of docs/ is linked from it."""
    readme = (ROOT / "README.md").read_text()
    assert re.findall(r"^## (.+)$", readme, flags=re.MULTILINE) == ["Set-up: two commands", "One example",
                                                                   "Where to go next"]
    linked = {(ROOT / target).resolve() for target in re.findall(r"\]\((docs/[^)#\s]+)", readme)}
    pages = {page.resolve() for page in (ROOT / "docs").glob("*.md")}
    assert sorted(str(page.relative_to(ROOT)) for page in pages - linked) == [], "pages the README does not link"
