"""Error messages clustered into templates: Drain with the variables masked first.

The method, step by step (the numbers are Drain3's defaults, not tuned on our test data):

1. **Mask** the variables of a message with fixed placeholders, in this order: UUIDs
   ``<UUID>``, URLs ``<URL>``, IPv6 addresses (with ``[…]:port``) and IPv4 addresses (with
   ``:port``) ``<IP>``, MAC addresses ``<MAC>``, hex ids (``0x…``, or 8+ hex digits holding
   a digit and a letter) ``<HEX>``, durations (a number and a time unit: ``5.0 s``, ``250ms``)
   ``<DUR>``, absolute paths of 2+ segments ``<PATH>``, and any other number standing
   alone (``42``, ``-3.5``, ``sshd[812]``) ``<NUM>``. A number inside a word (``eth0``,
   ``v2c``, ``edge-rtr-07``) is part of the word.
2. **Split** the masked message on whitespace into tokens.
3. **Route** it down a fixed-depth tree (Drain, He et al. 2017; the layers are the root,
   the token count, ``depth - 3`` leading tokens, the leaves: depth 4 routes by the first
   token) to a leaf holding a list of clusters. A placeholder, a token holding a digit
   (``core-sw1:``), or one past ``max_children`` siblings takes the ``<*>`` branch; so
   does, while looking (as Drain3 does), a token that has no branch of its own yet — a
   branch is made for it only when no cluster there matches (step 5).
4. **Match** the cluster in that leaf whose template is most similar: similarity = the
   share of positions where the template's token equals the message's (a ``<*>`` counts
   as no match); the best at or above ``similarity`` wins (ties: the older cluster).
5. **Merge**: the winner's template takes ``<*>`` at every position where it differs from
   the message; no winner makes a new cluster with the message as its template.

Identical masked messages always land in the cluster the first of them chose (a cache
from masked text to cluster: the common case costs one dict lookup), so a message's
cluster does not depend on what came after it. Its *template* is the cluster's template
after every message was seen (templates only generalise).

**Template ids** are the first 12 hex digits of BLAKE2b of the template text (UTF-8), so
the same template gets the same id in every run, file and process, whatever order the
messages came in; two clusters that end with the same text are one pattern (same id).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

WILDCARD = "<*>"

# (pattern, placeholder, gate) in the order they are applied: the specific shapes first, so
# a UUID or an address is not eaten piecewise by the number rule. A mask runs only when
# the message holds its gate (text, least count) — a count costs a tenth of a regex scan
# and most messages lack most shapes.
_ALWAYS = ("", 0)
_MASKS: tuple[tuple[re.Pattern[str], str, tuple[str, int]], ...] = tuple(
    (re.compile(pattern), placeholder, gate)
    for pattern, placeholder, gate in (
        (
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
            "<UUID>",
            ("-", 4),
        ),
        # a scheme is short: a bounded run keeps a long word before "://" linear, not quadratic
        (r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^\s\"'<>]+", "<URL>", ("://", 1)),
        # IPv6: in brackets (with a port), compressed (holds ::), or all eight groups
        # (every repetition bounded: a long run of colons and digits stays linear)
        (r"\[(?=[0-9a-fA-F.]*:)[0-9a-fA-F:.]{2,45}\](?::\d{1,5})?", "<IP>", ("[", 1)),
        (
            r"(?<![\w:])(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?::"
            r"(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?"
            r"(?![\w:])",
            "<IP>",
            ("::", 1),
        ),
        (r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])", "<IP>", (":", 7)),
        (r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?!\.?\w)", "<IP>", (".", 3)),
        (r"(?<![\w:-])(?:[0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}(?![\w:-])", "<MAC>", _ALWAYS),
        (r"\b0x[0-9a-fA-F]+\b", "<HEX>", ("0x", 1)),
        (r"\b(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b", "<HEX>", _ALWAYS),
        (
            r"(?<![\w.-])-?\d+(?:\.\d+)? ?(?:ns|us|µs|ms|s|secs?|seconds?|mins?|minutes?|h|hours?"
            r"|days?)\b",
            "<DUR>",
            _ALWAYS,
        ),
        (r"(?<![\w.~/>])(?:/[\w.@+-]+){2,}/?", "<PATH>", ("/", 2)),
        (r"(?<![\w.-])[-+]?\d+(?:\.\d+)?(?![\w.]|\.\d)", "<NUM>", _ALWAYS),
    )
)
_DIGIT = re.compile(r"\d")
# a message without a digit can hold only these (the rest all need one): most repeated
# messages skip the others
_WITHOUT_DIGITS = tuple(m for m in _MASKS if m[1] in ("<URL>", "<PATH>"))
_PLACEHOLDERS = frozenset(placeholder for _, placeholder, _ in _MASKS) | {WILDCARD}


def mask(message: str) -> str:
    """``message`` with its variables replaced by placeholders (step 1 of the method)."""
    masks = _MASKS if _DIGIT.search(message) is not None else _WITHOUT_DIGITS
    for pattern, placeholder, (text, least) in masks:
        if not least or message.count(text) >= least:
            message = pattern.sub(placeholder, message)
    return message


def template_id(template: str) -> str:
    """The stable id of a template: 12 hex digits of BLAKE2b of its text."""
    return hashlib.blake2b(template.encode("utf-8"), digest_size=6).hexdigest()


@dataclass(slots=True, eq=False)
class Cluster:
    """One template being learned: its tokens (``<*>`` where messages differed) and size."""

    tokens: list[str]
    count: int = 0

    @property
    def template(self) -> str:
        """The template's text: its tokens joined by one space."""
        return " ".join(self.tokens)


@dataclass(slots=True, eq=False)
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    clusters: list[Cluster] = field(default_factory=list)


class TemplateMiner:
    """Drain over masked messages (see the module's text for the method)."""

    def __init__(
        self,
        depth: int = 4,
        similarity: float = 0.4,
        max_children: int = 100,
        cache_size: int = 100_000,
    ) -> None:
        if depth < 3:
            raise ValueError("depth must be at least 3 (root, token count, leaf)")
        self.prefix_tokens = depth - 3  # the layers between the token count and the leaf
        self.similarity, self.max_children = similarity, max_children
        self.cache_size = cache_size
        self.clusters: list[Cluster] = []
        self._root: dict[int, _Node] = {}
        self._cache: dict[str, Cluster] = {}

    def add(self, message: str) -> Cluster:
        """Learn from one message; the cluster it joined."""
        masked = mask(message)
        cluster = self._cache.get(masked)
        if cluster is None:
            cluster = self._place(masked.split())
            if len(self._cache) >= self.cache_size:
                self._cache.clear()  # bounded memory; the tree still knows every cluster
            self._cache[masked] = cluster
        cluster.count += 1
        return cluster

    def _place(self, tokens: list[str]) -> Cluster:
        found = self._find_leaf(tokens)
        best = self._best(found.clusters, tokens) if found is not None else None
        if best is None:
            best = Cluster(list(tokens))
            self._add_leaf(tokens).clusters.append(best)
            self.clusters.append(best)
        else:
            template = best.tokens
            for i, token in enumerate(tokens):
                if template[i] != token:
                    template[i] = WILDCARD
        return best

    def _key(self, token: str) -> str:
        # as Drain: a placeholder, or a token holding a digit (core-sw1:), is likely a
        # variable, so it does not pick a branch of its own
        return WILDCARD if token in _PLACEHOLDERS or _DIGIT.search(token) else token

    def _find_leaf(self, tokens: list[str]) -> _Node | None:
        """Step 3, looking: the leaf for these tokens; a token without a branch of its own
        follows the ``<*>`` branch (a new first word may still be a known template)."""
        node = self._root.get(len(tokens))
        for token in tokens[: self.prefix_tokens]:
            if node is None:
                return None
            children = node.children
            node = children.get(self._key(token)) or children.get(WILDCARD)
        return node

    def _add_leaf(self, tokens: list[str]) -> _Node:
        """Step 3, growing: the leaf for a new cluster, making the branches it needs (past
        ``max_children`` siblings, the ``<*>`` branch)."""
        node = self._root.get(len(tokens))
        if node is None:
            node = self._root[len(tokens)] = _Node()
        for token in tokens[: self.prefix_tokens]:
            key = self._key(token)
            if key not in node.children and len(node.children) >= self.max_children:
                key = WILDCARD
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node()
            node = child
        return node

    def _best(self, clusters: Sequence[Cluster], tokens: list[str]) -> Cluster | None:
        """Step 4: the most similar cluster at or above the threshold (None if none)."""
        if not tokens:
            return clusters[0] if clusters else None
        best, best_score = None, -1.0
        n = len(tokens)
        for cluster in clusters:
            same = sum(1 for a, b in zip(cluster.tokens, tokens, strict=True) if a == b)
            score = same / n
            if score > best_score:
                best, best_score = cluster, score
        return best if best_score >= self.similarity else None


@dataclass(frozen=True, slots=True)
class Pattern:
    """One template as reported: stable id, text, how many messages it holds."""

    id: str
    template: str
    count: int


@dataclass(frozen=True, slots=True)
class Mined:
    """Messages clustered: each message's template id (input order) and the templates."""

    ids: list[str]
    patterns: dict[str, Pattern]  # by id, most messages first

    def template_of(self, index: int) -> str:
        """The template of the ``index``-th message (0-based)."""
        return self.patterns[self.ids[index]].template


def mine(messages: Iterable[str], miner: TemplateMiner | None = None) -> Mined:
    """Cluster ``messages`` (each a line's text, without its line end) into templates."""
    miner = miner if miner is not None else TemplateMiner()
    joined = [miner.add(message) for message in messages]
    id_of = {id(c): template_id(c.template) for c in miner.clusters}
    counts: dict[str, int] = {}
    texts: dict[str, str] = {}
    for cluster in miner.clusters:
        key = id_of[id(cluster)]
        counts[key] = counts.get(key, 0) + cluster.count
        texts[key] = cluster.template
    ordered = sorted(counts, key=lambda k: (-counts[k], texts[k]))
    patterns = {k: Pattern(k, texts[k], counts[k]) for k in ordered}
    return Mined([id_of[id(c)] for c in joined], patterns)


@dataclass(frozen=True, slots=True)
class Scores:
    """How well predicted groups match labelled ones (the bench and the tests report these).

    ``grouping_accuracy``: the share of messages whose predicted group holds exactly the
    messages of its labelled group (Zhu et al. 2019, "Tools and Benchmarks for Automated Log
    Parsing"). ``template_f1``: groups found exactly (same message set) over predicted groups
    (precision) and over labelled groups (recall), their harmonic mean (Khan et al. 2022's
    F1 of grouping accuracy)."""

    grouping_accuracy: float
    template_precision: float
    template_recall: float
    template_f1: float


def grouping_scores(predicted: Sequence[str], labels: Sequence[str]) -> Scores:
    """Score predicted group keys against labels, message by message (same order)."""
    if len(predicted) != len(labels):
        raise ValueError("predicted and labels differ in length")
    groups: dict[str, set[int]] = {}
    truths: dict[str, set[int]] = {}
    for i, (p, t) in enumerate(zip(predicted, labels, strict=True)):
        groups.setdefault(p, set()).add(i)
        truths.setdefault(t, set()).add(i)
    exact = {p for p, members in groups.items() if members == truths[labels[min(members)]]}
    right = sum(len(groups[p]) for p in exact)
    precision = len(exact) / len(groups) if groups else 1.0
    recall = len(exact) / len(truths) if truths else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(right / len(labels) if labels else 1.0, precision, recall, f1)
