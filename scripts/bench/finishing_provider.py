"""The simulated provider of the finishing-power benchmark: answers every role (Builder, Auditor,
Doctor, Planner) for the tasks of scripts/bench/finishing_tasks.py, with odds from
scripts/bench/finishing_models.py. It implements autopack's ``Provider`` protocol, so the real
``LlmService`` retries, counts and charges its calls, and the real executor acts on its replies.

What it knows: the task behind each phase id (the function's real source, its stub, its tests), and
what it said before in this run (its replies, hints and re-plans, whether they were right). What it
reads from the prompt: the role (``ROLE: ...``), the phase (``PHASE: id`` or the phase's JSON), whether
the Builder is retrying after an error, the hint it was given, whether the Builder is asked to continue
a reply cut off, or to confirm a change with NO_CHANGES. It never reads the worktree.

Every random draw is keyed by (seed, task, role, call index), never by a shared stream, so two
policies that make the same call get the same draw (common random numbers).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field

from finishing_models import MIN_OUTPUT_TOKENS, Calibration, sigmoid
from finishing_tasks import Task

from autopack.llm.types import LlmRequest, LlmResponse, ProviderError, Usage

CACHE_TTL_S = 300.0
_PHASE = re.compile(r"^PHASE: (\S+)", re.MULTILINE)
_PHASE_JSON = re.compile(r'"id": "([^"]+)"')
_HINT = re.compile(r"^Hint from the diagnosis of earlier failures: (.*)$", re.MULTILINE)


@dataclass
class PhaseMemory:
    builder_calls: int = 0
    failed_by_model: dict[str, int] = field(default_factory=dict)  # since the last re-plan
    last_reply: dict[str, tuple[str, bool]] = field(default_factory=dict)  # model -> (text, right)
    sent: set[str] = field(default_factory=set)  # hashes of replies sent
    change_right: bool = False  # the last edit that could pass the gate was the real body
    helpful_hints: dict[str, bool] = field(default_factory=dict)
    replan_helps: bool = False
    calls: dict[str, int] = field(default_factory=dict)  # per draw tag
    confused: dict[str, bool] = field(default_factory=dict)  # planner model -> gives no JSON for this phase
    pending: dict[str, str] = field(default_factory=dict)  # partial reply -> the whole reply (cut off)


@dataclass
class CallLog:
    """One call as the provider saw it; ``finishing_run`` lines these up with the run's llm_call events."""

    role: str
    phase: str | None
    model: str
    kind: str  # what was answered: right, mutant, ..., approve, reject, no_json, retry_with_fix, replan, rule, ...
    seconds: float
    same_reply: bool = False
    error: str | None = None
    sub: str = ""  # planner: replan | rule; any role: retry (a follow-up after an unreadable reply)
    hint: str | None = None


class SimulatedProvider:
    """A ``Provider`` whose replies are drawn per role and task (module docstring)."""

    name = "simulated"

    def __init__(self, tasks: dict[str, Task], cal: Calibration, *, seed: int, cached_models: set[str],
                 other_bodies: dict[str, list[str]], test_first_lines: dict[str, str],
                 hopeless: set[str] | None = None, confused_planner: set[str] | None = None) -> None:  # fmt: skip
        self.tasks, self.cal, self.seed = tasks, cal, seed
        self.a = cal.assumptions
        self.cached_models = cached_models
        self.other_bodies = other_bodies  # module -> bodies of its functions (for "a body for another function")
        self.test_first_lines = test_first_lines
        self.hopeless = hopeless or set()
        self.confused_planner = confused_planner or set()
        self.memory: dict[str, PhaseMemory] = {}
        self.log: list[CallLog] = []
        self.clock = 0.0  # simulated seconds: model time plus the service's back-off waits
        self._cache: dict[tuple[str, str], float] = {}  # (model, system hash) -> last sent at
        self._last_phase: str | None = None
        self._mutants: dict[str, list[str]] = {}
        self._entry = CallLog("", None, "", "", 0)

    def available(self) -> bool:
        return True

    def sleep(self, seconds: float) -> None:
        """The service's back-off between retries: simulated, not slept."""
        self.clock += seconds

    # draws ----------------------------------------------------------------------------------
    def _u(self, *key: object) -> float:
        return random.Random("|".join(map(str, (self.seed, *key)))).random()

    def _next(self, mem: PhaseMemory, tag: str) -> int:
        mem.calls[tag] = mem.calls.get(tag, 0) + 1
        return mem.calls[tag] - 1

    def _difficulty(self, pid: str) -> float:
        return 60.0 if pid in self.hopeless else self.cal.difficulty[pid]

    def _p_second(self, model: str, pid: str) -> float:
        """The odds of a model that sees the failure understanding the task (its second-try odds)."""
        m = self.cal.models[model]
        return sigmoid(m.skill + m.lift - self._difficulty(pid))

    # the call ---------------------------------------------------------------------------------
    def complete(self, request: LlmRequest) -> LlmResponse:
        role = request.system.split("\n", 1)[0].removeprefix("ROLE: ").strip()
        first = request.messages[0].content if request.messages else ""
        pid = self._phase_of(role, first)
        mem = self.memory.setdefault(pid or "", PhaseMemory())
        net = self._next(mem, f"net-{role}")
        u = self._u(pid, "net", role, net)
        if u < self.a.rate_limit + self.a.server_error:
            limited = u < self.a.rate_limit
            self._record(CallLog(role, pid, request.model, "http_429" if limited else "http_500", 0.5,
                                 error="rate_limit" if limited else "server"))  # fmt: skip
            raise ProviderError(
                kind="rate_limit" if limited else "server",
                message="simulated: rate limited, retry later" if limited else "simulated: internal server error",
                provider=self.name,
                status=429 if limited else 500,
                retry_after=round(2 + 18 * self._u(pid, "retry-after", net), 1) if limited else None,
            )
        if role == "builder":
            text, stop, log = self._builder(request, pid, mem)
        elif role == "auditor":
            text, stop, log = self._auditor(request, pid, mem), "end", None
        elif role == "doctor":
            text, stop, log = self._doctor(request, pid, mem), "end", None
        elif role == "planner":
            text, stop, log = self._planner(request, pid, mem), "end", None
        else:
            raise ProviderError(
                kind="bad_request", message=f"simulated provider: unknown role {role!r}", provider=self.name
            )
        log = log or self._entry  # the role's own entry, completed below
        return self._answer(request, text, stop, log)

    def _phase_of(self, role: str, first: str) -> str | None:
        m = _PHASE.search(first) if role in ("builder", "auditor") else _PHASE_JSON.search(first)
        pid = m.group(1) if m and m.group(1) in self.tasks else None
        if pid is None and role == "planner" and first.startswith("A phase failed with"):
            pid = self._last_phase  # the learned rule's wording names no phase: it follows the phase just done
        if role == "builder" and pid:
            self._last_phase = pid
        return pid

    def _answer(self, request: LlmRequest, text: str, stop: str, log: CallLog) -> LlmResponse:
        model = self.cal.models[request.model]
        chars_in = len(request.system) + sum(len(m.content) for m in request.messages)
        visible = max(1, math.ceil(len(text) / 4))
        hidden = (
            max(0.0, model.output_tokens - visible)
            if log.role == "builder"
            else 0.5 * max(0.0, model.output_tokens - MIN_OUTPUT_TOKENS)
        )
        tokens_out = min(request.max_tokens, visible + int(hidden))
        cached = 0
        key = (request.model, hashlib.sha1(request.system.encode()).hexdigest())
        if request.model in self.cached_models and self.clock - self._cache.get(key, -1e9) <= CACHE_TTL_S:
            cached = len(request.system) // 4
        self._cache[key] = self.clock
        seconds = 0.5 + tokens_out / model.tokens_per_second
        self.clock += seconds
        log.seconds = seconds
        self.log.append(log)
        return LlmResponse(text=text, usage=Usage(tokens_in=math.ceil(chars_in / 4), tokens_out=tokens_out, tokens_cached=cached),
                           stop_reason=stop, provider=self.name, model=request.model, raw_stop_reason=stop)  # fmt: skip

    def _note(self, log: CallLog) -> None:
        self._entry = log

    def _record(self, log: CallLog) -> None:
        self.clock += log.seconds
        self.log.append(log)

    # the Builder ------------------------------------------------------------------------------
    def _builder(self, request: LlmRequest, pid: str | None, mem: PhaseMemory) -> tuple[str, str, CallLog]:
        model = request.model
        if pid is None:
            return "I cannot tell which phase this is.", "end", CallLog("builder", pid, model, "no_phase", 0)
        task = self.tasks[pid]
        msgs = request.messages
        if len(msgs) >= 2 and msgs[1].role == "assistant":  # continue a reply cut off at the token limit
            partial = msgs[1].content
            whole = next((w for p, w in mem.pending.items() if w.startswith(partial)), "")
            return whole[len(partial) :], "end", CallLog("builder", pid, model, "continuation", 0, sub="continuation")
        prompt = msgs[0].content
        k = self._next(mem, "builder")
        retry = "The previous attempt failed" in prompt
        if "no Auditor reply could be read" in prompt and self._u(pid, "confirm", k) < 0.9:
            return (
                "NO_CHANGES: the change above already completes the phase.",
                "end",
                CallLog("builder", pid, model, "no_changes", 0),
            )
        m = self.cal.models[model]
        fails = mem.failed_by_model.get(model, 0)
        logit = m.skill - self._difficulty(pid)
        if retry:
            logit += m.lift - self.a.retry_decay * max(0, fails - 1)
        hint = _HINT.search(prompt)
        if (hint and mem.helpful_hints.get(hint.group(1).strip())) or mem.replan_helps:
            logit += self.a.hint_lift
        right = self._u(pid, "builder", k) < sigmoid(logit)
        if right:
            kind, text = "right", self._edit(task, task.original)
        else:
            mem.failed_by_model[model] = fails + 1
            previous = mem.last_reply.get(model)
            if retry and previous and not previous[1] and self._u(pid, "repeat", k) < self.a.repeat_reply:
                kind, text = "repeat", previous[0]
            else:
                kind, text = self._wrong(task, model, k, mem)
        h = hashlib.sha1(text.encode()).hexdigest()
        log = CallLog("builder", pid, model, kind, 0, same_reply=h in mem.sent)
        mem.sent.add(h)
        mem.last_reply[model] = (text, right)
        if kind not in ("search_mismatch", "no_divider", "no_path", "out_of_scope", "truncated"):
            mem.change_right = right
        stop = "end"
        if kind == "truncated":
            cut = text.index("=======") + int(0.6 * (len(text) - text.index("=======")))
            if self._u(pid, "cut", k) < 0.5:  # cut off at the token limit: the Builder asks to continue
                mem.pending[text[:cut]] = text
                mem.change_right = "REPLACE" in text and text.count(task.original) > 0
                stop = "max_tokens"
            text = text[:cut]
        return text, stop, log

    def _edit(self, task: Task, replacement: str, *, path: str | None = None, search: str | None = None) -> str:
        block = f"<<<<<<< SEARCH\n{task.stub if search is None else search}\n=======\n{replacement}\n>>>>>>> REPLACE"
        return f"Here is `{task.name}` written again from its docstring.\n\n{path or task.module}\n```\n{block}\n```\n"

    def _wrong(self, task: Task, model: str, k: int, mem: PhaseMemory) -> tuple[str, str]:
        m = self.cal.models[model]
        u = self._u(task.id, "wrong", k)
        p_malformed = min(1.0, m.row.malformed / max(1e-9, 1 - m.row.pass_rate_1))
        header = "\n".join(task.stub.splitlines()[:-1])
        if u < p_malformed:
            kind = _pick(self.a.malformed_kinds, self._u(task.id, "malformed-kind", k))
            body = task.original if self._u(task.id, "malformed-body", k) < 0.5 else self._mutant(task, k)
            text = self._edit(task, body)
            if kind == "search_mismatch":
                doc = task.stub.splitlines()[1].strip().strip('"').strip("'") or task.name
                fake = f'def {task.name}(*args, **kwargs):\n{task.indent}"""{doc}"""\n{task.indent}pass'
                text = self._edit(task, body, search=fake)
            elif kind == "no_divider":
                text = text.replace("\n=======\n", "\n", 1)
            elif kind == "no_path":
                text = text.replace(f"\n{task.module}\n", "\n", 1)
            return kind, text
        kind = _pick(self.a.wrong_kinds, self._u(task.id, "wrong-kind", k))
        if kind == "mutant":
            return kind, self._edit(task, self._mutant(task, k))
        if kind == "placeholder":
            if self._u(task.id, "placeholder", k) < 0.5:
                return kind, self._edit(task, f"{header}\n{task.indent}# TODO: implement\n{task.indent}pass")
            return kind, self._edit(task, f"{header}\n{task.indent}# ... rest of the implementation ...")
        if kind == "other_body":
            bodies = [b for b in self.other_bodies.get(task.module, []) if b not in task.original]
            if bodies:
                body = bodies[int(self._u(task.id, "other", k) * len(bodies))]
                return kind, self._edit(task, f"{header}\n" + _reindent(body, task.indent))
            return "mutant", self._edit(task, self._mutant(task, k))
        line = self.test_first_lines.get(task.test_file, "import pytest")
        return "out_of_scope", self._edit(
            task, f"{line}\n# the test expected the wrong value", path=task.test_file, search=line
        )

    def _mutant(self, task: Task, k: int) -> str:
        found = self._mutants.get(task.id)
        if found is None:
            found = self._mutants[task.id] = mutants(task.original, random.Random(f"{self.seed}|{task.id}|mutants"))
        if not found:
            return "\n".join(task.stub.splitlines()[:-1]) + f"\n{task.indent}return None"
        return found[int(self._u(task.id, "mutant", k) * len(found))]

    # the Auditor ------------------------------------------------------------------------------
    def _auditor(self, request: LlmRequest, pid: str | None, mem: PhaseMemory) -> str:
        model = request.model
        j = self._next(mem, "auditor")
        sub = "retry" if len(request.messages) > 1 else ""
        if pid is None:
            self._note(CallLog("auditor", pid, model, "approve", 0, sub=sub))
            return json.dumps({"approved": True, "issues": [], "summary": "Looks fine."})
        m = self.cal.models[model]
        if self._u(pid, "auditor-json", j) < m.row.malformed:
            self._note(CallLog("auditor", pid, model, "no_json", 0, sub=sub))
            return "The change restores the function and the tests pass; I have no objection."
        task = self.tasks[pid]
        if mem.change_right:
            reject = self._u(pid, "auditor", j) < self.a.false_reject * (1 - m.row.pass_rate_2)
            issue = {
                "severity": "major",
                "message": f"`{task.name}` does not handle an empty input the way its docstring says.",
            }
        else:
            reject = self._u(pid, "auditor", j) < self._p_second(model, pid)
            issue = {
                "severity": "critical",
                "message": f"`{task.name}` does not do what its docstring says; the tests miss it.",
            }
        self._note(CallLog("auditor", pid, model, "reject" if reject else "approve", 0, sub=sub))
        if reject:
            return json.dumps({"approved": False, "issues": [issue], "summary": "Not ready to merge."})
        return json.dumps({"approved": True, "issues": [], "summary": f"`{task.name}` is restored and its tests pass."})

    # the Doctor -------------------------------------------------------------------------------
    def _doctor(self, request: LlmRequest, pid: str | None, mem: PhaseMemory) -> str:
        model = request.model
        j = self._next(mem, "doctor")
        sub = "retry" if len(request.messages) > 1 else ""
        m = self.cal.models[model]
        if pid is None or self._u(pid, "doctor-json", j) < m.row.malformed:
            self._note(CallLog("doctor", pid, model, "no_json", 0, sub=sub))
            return "The phase keeps failing its tests; the Builder should look at the docstring again."
        task = self.tasks[pid]
        if self._u(pid, "doctor", j) < self._p_second(model, pid):
            hint = (f"`{task.name}`: the failing assertions compare against the docstring's examples; trace one example "
                    f"through the body line by line before writing it (diagnosis {j + 1}).")  # fmt: skip
            mem.helpful_hints[hint] = True
            out = {"action": "retry_with_fix", "confidence": 0.85, "rationale": "The body's logic is off on the documented cases.",
                   "hint": hint}  # fmt: skip
        else:
            # a model told an action is not available now does not choose it (when autopack says so)
            barred = set(_UNAVAILABLE.findall(request.messages[0].content))
            choices = tuple(w for w in self.a.doctor_lost if w[0] not in barred) or self.a.doctor_lost
            action, conf = _pick3(choices, self._u(pid, "doctor-action", j))
            out = {"action": action, "confidence": conf, "rationale": "The attempts keep failing the same tests."}
            if action == "retry_with_fix":
                out["hint"] = "Make sure the phase's checks pass."
                mem.helpful_hints.setdefault(out["hint"], False)
        self._note(CallLog("doctor", pid, model, str(out["action"]), 0, sub=sub, hint=out.get("hint")))  # type: ignore[arg-type]
        return json.dumps(out)

    # the Planner ------------------------------------------------------------------------------
    def _planner(self, request: LlmRequest, pid: str | None, mem: PhaseMemory) -> str:
        model = request.model
        first = request.messages[0].content
        m = self.cal.models[model]
        if first.startswith("A phase failed with"):
            j = self._next(mem, "rule")
            if self._u(pid, "rule-json", j) < m.row.malformed:
                self._note(CallLog("planner", pid, model, "no_json", 0, sub="rule"))
                return "Always run the tests."
            name = self.tasks[pid].name if pid else "the function"
            specific = self._u(pid, "rule", j) < 0.5
            rule = (f"When restoring `{name}`, check each example of its docstring against the body before replying."
                    if specific else "Make sure the phase's checks pass before replying.")  # fmt: skip
            self._note(CallLog("planner", pid, model, "rule_specific" if specific else "rule_generic", 0, sub="rule"))
            return json.dumps({"rule": rule})
        j = self._next(mem, "replan")
        sub = "replan" + ("-retry" if len(request.messages) > 1 else "")
        if pid is None:
            self._note(CallLog("planner", pid, model, "no_json", 0, sub=sub))
            return "I would split the work differently."
        task = self.tasks[pid]
        if model not in mem.confused:
            mem.confused[model] = pid in self.confused_planner or self._u(pid, "confused", model) < m.row.malformed
        u = self._u(pid, "replan", j)
        if mem.confused[model] or u < m.row.malformed:
            self._note(CallLog("planner", pid, model, "no_json", 0, sub=sub))
            return ("The phase should be approached differently: first understand what the function is for, then write it "
                    "step by step, checking the tests as you go.")  # fmt: skip
        if u < m.row.malformed + self.a.planner_bad_scope:
            self._note(CallLog("planner", pid, model, "bad_scope", 0, sub=sub))
            return json.dumps({"description": f"Fix `{task.name}` and adjust its tests.", "steps": [],
                               "scope": [task.module, task.test_file], "builder_mode": "structured_edit",
                               "rationale": "The tests may be wrong."})  # fmt: skip
        mem.replan_helps = self._u(pid, "replan-helps", j) < self._p_second(model, pid)
        mem.failed_by_model.clear()
        self._note(CallLog("planner", pid, model, "revision", 0, sub=sub))
        return json.dumps({
            "description": f"Write the body of `{task.name}` in {task.module} again: it raises NotImplementedError. "
                           "Work from its docstring's examples, one case at a time.",
            "steps": [f"Read the docstring of `{task.name}` and its examples.", "Handle the general case.",
                      "Handle the edge cases the examples show (empty input, defaults)."],
            "scope": [task.module], "builder_mode": "structured_edit",
            "rationale": "Earlier attempts guessed the behaviour; the docstring's examples pin it down."})  # fmt: skip


_UNAVAILABLE = re.compile(r"^Not available now, do not choose it: (\w+)", re.M)


def _pick(weights: tuple[tuple[str, float], ...], u: float) -> str:
    total = sum(w for _, w in weights)
    acc = 0.0
    for name, w in weights:
        acc += w / total
        if u < acc:
            return name
    return weights[-1][0]


def _pick3(weights: tuple[tuple[str, float, float], ...], u: float) -> tuple[str, float]:
    name = _pick(tuple((n, w) for n, w, _ in weights), u)
    return name, next(c for n, _, c in weights if n == name)


def _reindent(body: str, indent: str) -> str:
    lines = body.splitlines()
    strip = min((len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()), default=0)
    return "\n".join(indent + ln[strip:] if ln.strip() else "" for ln in lines)


def body_of(task: Task) -> str:
    """The function's body without its def line and docstring."""
    header = len(task.stub.splitlines()) - 1
    return "\n".join(task.original.splitlines()[header:])


# mutants ------------------------------------------------------------------------------------
_SWAP_CMP: dict[type, type] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                               ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}  # fmt: skip
_SWAP_BIN: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
                               ast.Div: ast.Mult, ast.Mod: ast.FloorDiv}  # fmt: skip


def mutants(source: str, rng: random.Random, limit: int = 6) -> list[str]:
    """Up to ``limit`` versions of a function with one small bug each (a comparison, an arithmetic
    operator, a constant, and/or, a dropped ``not``, a returned value), on one line each, the rest of
    the text kept as written."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    func = tree.body[0]
    body = func.body[1:] if isinstance(func, ast.FunctionDef) else []
    lines = source.splitlines()
    out: list[str] = []
    for stmt in body:
        for node in ast.walk(stmt):
            new: ast.AST | None = None
            if isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAP_CMP:
                new = ast.Compare(node.left, [_SWAP_CMP[type(node.ops[0])]()] + node.ops[1:], node.comparators)
            elif isinstance(node, ast.BinOp) and type(node.op) in _SWAP_BIN:
                new = ast.BinOp(node.left, _SWAP_BIN[type(node.op)](), node.right)
            elif isinstance(node, ast.Constant) and type(node.value) is int:
                new = ast.Constant(node.value + 1 if node.value != 1 else 0)
            elif isinstance(node, ast.BoolOp):
                new = ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values)
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                new = node.operand
            elif isinstance(node, ast.Return) and node.value is not None and not (
                    isinstance(node.value, ast.Constant) and node.value.value is None):  # fmt: skip
                new = ast.Return(ast.Constant(None))
            if new is None or node.lineno != node.end_lineno:
                continue
            line = lines[node.lineno - 1]
            try:
                text = ast.unparse(new)
            except Exception:  # noqa: BLE001 - an odd node: skip it
                continue
            mutated = line[: node.col_offset] + text + line[node.end_col_offset :]
            if mutated != line:
                out.append("\n".join([*lines[: node.lineno - 1], mutated, *lines[node.lineno :]]))
    out = list(dict.fromkeys(out))
    rng.shuffle(out)
    return out[:limit]
