#!/usr/bin/env python3
"""Generate example / benchmark run logs for ptrack (run log format version 1).

Usage
-----
Example runs for the real prompts of this repository (rewrites runs/<prompt>/*.jsonl
for the prompts it generates, nothing else)::

    python3 scripts/gen_runs.py [--seed 42] [--end 2026-11-23T18:00:00Z] [--runs 350]

Synthetic benchmark data (N runs for P fake prompts x V versions over D days)::

    python3 scripts/gen_runs.py --bench 1000000 --out /tmp/bench1m \\
        [--prompts 10] [--versions 3] [--days 60] [--seed 42]

Log format (one JSON object per line, in ``<runs dir>/<prompt>/<YYYY-MM>.jsonl``,
the month being the one of ``ts``; lines of a file are sorted by ``ts``)::

    {"id": UUIDv7 (its 48-bit ms timestamp == ts), "ts": "2026-11-02T10:15:30.123Z",
     "prompt", "version", "prompt_sha": git blob id of the version file,
     "commit": null, "model", "params": {temperature, token_limit, top_k, top_p},
     "input": {variables}, "output", "execution_time_ms", "token_count",
     "output_length" (unicode code points), "success", "error" (null or string),
     ["quality_score": 1..10], ["feedback": str]}

Rating events (a user rating an existing run later) are separate lines::

    {"type": "rating", "id": UUIDv7, "ts", "run_id", "quality_score", "feedback"}

The script only uses the standard library and is deterministic for a given
``--seed`` (random.Random).  prompt_sha is computed from the real bytes of the
prompt files (same value as ``git hash-object FILE``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

UTC = timezone.utc
DAY_MS = 86_400_000

# --------------------------------------------------------------------------- helpers


def git_blob_sha(data: bytes) -> str:
    """The id `git hash-object` prints for a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def uuid7(ms: int, rng: random.Random) -> str:
    """UUIDv7 string whose 48-bit timestamp is `ms` (random bits from `rng`)."""
    rand_a = rng.getrandbits(12)
    rand_b = rng.getrandbits(62)
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_day_cache: dict[int, str] = {}


def fmt_ts(ms: int) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2026-11-02T10:15:30.123Z."""
    day, rem = divmod(ms, DAY_MS)
    prefix = _day_cache.get(day)
    if prefix is None:
        prefix = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).strftime("%Y-%m-%dT")
        _day_cache[day] = prefix
    sec, milli = divmod(rem, 1000)
    h, sec = divmod(sec, 3600)
    m, s = divmod(sec, 60)
    return f"{prefix}{h:02d}:{m:02d}:{s:02d}.{milli:03d}Z"


def parse_rfc3339(s: str) -> int:
    """RFC 3339 string -> epoch milliseconds."""
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _yaml_scalar(v: str):
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def read_prompt_meta(path: Path) -> dict:
    """Top-level metadata of a prompt version file (.toml, or .md with YAML/TOML front matter).

    For YAML only flat top-level `key: value` lines are parsed (enough for the params).
    """
    text = path.read_bytes().decode("utf-8")
    if path.suffix == ".toml":
        return tomllib.loads(text)
    lines = text.splitlines()
    fence = lines[0].strip()
    end = lines.index(fence, 1)
    fm = lines[1:end]
    if fence == "+++":
        return tomllib.loads("\n".join(fm))
    meta: dict = {}
    for line in fm:
        if not line or line[0] in " \t#" or ":" not in line:
            continue
        key, _, value = line.partition(":")
        if value.strip():
            meta[key.strip()] = _yaml_scalar(value)
    return meta


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- content pools

NAMES = ["Maya", "Jonas", "Priya", "Lucas", "Aiko", "Tom", "Fatima", "Élodie", "Mateo",
         "Sara", "Noah", "Chen", "Ingrid", "Kwame", "there", "there"]

# Coaching situations: message, focus area, reflection, feeling, ideas, question, next step.
COACHING = [
    dict(area="career",
         msg="I've been at the same company for six years and I feel stuck, but I'm scared to leave.",
         reflect="you have outgrown your current role, yet leaving something familiar feels risky",
         feeling="the fear is keeping you from even exploring your options",
         ideas=["Write down what you would miss and what you would not miss if you left tomorrow.",
                "Have coffee with two people who changed companies recently and ask what surprised them.",
                "Look at five job ads that excite you and note the skills they have in common.",
                "Talk to your manager about a stretch project, to test whether growth is possible where you are."],
         question="If you imagine yourself a year from now, what would make you say the change was worth it?",
         next="Block 30 minutes this week to write down three things you want from your next role."),
    dict(area="career",
         msg="My manager gave me vague feedback in my review and I don't know what to improve.",
         reflect="the review left you with more questions than answers",
         feeling="it is frustrating not to know what good looks like",
         ideas=["Ask your manager for one concrete example of what they would like to see more of.",
                "Propose two or three goals yourself and ask them to confirm or adjust them.",
                "Ask a trusted colleague how they see your strengths and blind spots."],
         question="Which part of the feedback felt most unclear to you?",
         next="Send your manager a short message asking for one specific example before Friday."),
    dict(area="career",
         msg="I want to move from accounting into data analysis. Where do I even start?",
         reflect="you are ready for a change and already have a direction in mind",
         feeling="the size of the jump makes it hard to see the first step",
         ideas=["Start with SQL: it builds directly on how you already think about ledgers and tables.",
                "Pick one real dataset from your current job and answer a question with it.",
                "Find a data analyst on LinkedIn with an accounting background and ask how they switched."],
         question="What kind of questions would you most enjoy answering with data?",
         next="Sign up for a free SQL course and finish the first lesson within 48 hours."),
    dict(area="career",
         msg="I got a job offer with a 20% raise but the team seems chaotic. Should I take it?",
         reflect="the offer is attractive on paper, but something about the team worries you",
         feeling="you do not want money to be the only reason you decide",
         ideas=["Ask to speak with someone who would be your peer on the team, not just the hiring manager.",
                "List what 'chaotic' means to you: unclear priorities, turnover, long hours?",
                "Compare both options against your top three values, not only the salary."],
         question="What would you need to hear from the team to feel comfortable saying yes?",
         next="Email the recruiter today asking for a 20-minute call with a future teammate."),
    dict(area="career",
         msg="How do I ask for a promotion without sounding pushy?",
         reflect="you want to be recognised for your work without damaging a good relationship",
         feeling="asking for something for yourself feels uncomfortable",
         ideas=["Frame it as a conversation about growth: 'What would it take for me to reach the next level?'",
                "Bring two or three concrete results from the last six months.",
                "Ask for the conversation in advance so your manager is not caught off guard."],
         question="What results are you most proud of from the last six months?",
         next="Write down your three strongest results and book a 1:1 with your manager for next week."),
    dict(area="career",
         msg="I was laid off last week and I don't know what to do first.",
         reflect="this came as a shock and everything feels urgent at once",
         feeling="it is normal to feel unsettled after losing a job",
         ideas=["Take care of the practical basics first: severance, health insurance, unemployment registration.",
                "Give yourself a few days before applying anywhere, so you can choose with a clear head.",
                "Tell five people in your network that you are looking; most roles are found through people."],
         question="What feels most pressing to you right now: money, next steps, or simply processing it?",
         next="Make a one-page list of the practical deadlines you have and tick off the first one tomorrow."),
    dict(area="health",
         msg="I want to start running again but I always quit after two weeks.",
         reflect="you have started before, which means the motivation is there, but the habit does not stick",
         feeling="the repeated restarts are discouraging",
         ideas=["Aim for consistency, not distance: three runs of 15 minutes a week.",
                "Put the runs in your calendar like meetings.",
                "Find a running buddy or a beginner group so someone expects you."],
         question="What usually happens around week two that makes you stop?",
         next="Schedule three 15-minute runs for the coming week in your calendar tonight."),
    dict(area="health",
         msg="I sleep badly when work is stressful and then I'm exhausted all day.",
         reflect="stress from work is following you into the night and draining your days",
         feeling="it becomes a cycle that is hard to break",
         ideas=["Write a short 'tomorrow list' before bed so your mind can let go of open loops.",
                "Keep screens out of the last 30 minutes before sleep.",
                "Keep the same wake-up time, even after a bad night."],
         question="What are you usually thinking about when you cannot fall asleep?",
         next="Tonight, write a three-line 'tomorrow list' before you go to bed."),
    dict(area="health",
         msg="I'd like to cook at home more instead of ordering food every night.",
         reflect="you want to eat better and spend less, but evenings leave you with little energy",
         feeling="ordering is simply the easiest option after a long day",
         ideas=["Choose three simple recipes you can cook in 20 minutes and rotate them.",
                "Shop once a week with a list so the ingredients are always there.",
                "Cook a double portion on Sunday for Monday and Tuesday."],
         question="Which evening of the week would be easiest to start with?",
         next="Pick one 20-minute recipe and buy the ingredients for it on your next shopping trip."),
    dict(area="relationships",
         msg="My sister and I argue every time we talk about our parents.",
         reflect="you care about your sister and your parents, but the topic keeps pulling you apart",
         feeling="the arguments leave you both feeling unheard",
         ideas=["Agree on a time to talk about it, instead of letting it come up by surprise.",
                "Start by asking what she is most worried about before sharing your view.",
                "Separate the decisions that must be made now from the ones that can wait."],
         question="What do you think your sister is most afraid of in this situation?",
         next="Send your sister a message suggesting a calm call this weekend just about this topic."),
    dict(area="relationships",
         msg="I moved to a new city and I don't have any friends here yet.",
         reflect="you are building a life from scratch in a new place",
         feeling="it can feel lonely, even when everything else is going well",
         ideas=["Join one recurring activity (a sports club, choir, language exchange) rather than one-off events.",
                "Say yes to the first few invitations from colleagues, even small ones.",
                "Be the one who proposes a second meeting; most people are waiting for someone to do it."],
         question="What kind of activity did you enjoy doing with friends back home?",
         next="Find one weekly group activity near you and sign up for its next session."),
    dict(area="relationships",
         msg="My partner and I never have time for each other during the week.",
         reflect="your relationship matters to you, but the week swallows all your time together",
         feeling="you miss the connection you used to have",
         ideas=["Protect one evening a week with no phones and no chores.",
                "Share a 10-minute check-in every night, even on busy days.",
                "Look at the week together on Sunday and plan around each other's commitments."],
         question="What does a good evening together look like for the two of you?",
         next="Propose one fixed evening for the two of you this week and put it in both calendars."),
    dict(area="productivity",
         msg="I have too many projects and I can't decide what to drop.",
         reflect="you are spread across many commitments and all of them feel important",
         feeling="dropping something feels like failing",
         ideas=["List every project and mark which ones you would start again today if you had not already.",
                "Pause one project explicitly for a month instead of cancelling it.",
                "Ask who else would be affected and talk to them before deciding."],
         question="Which project gives you energy, and which one mostly drains it?",
         next="Write the full list of your projects and circle the one you will pause this month."),
    dict(area="productivity",
         msg="I'm starting a master's degree while working full time. How do I not burn out?",
         reflect="you are taking on something ambitious on top of a full-time job",
         feeling="you want to do it well without losing your health along the way",
         ideas=["Decide in advance which weekly hours belong to study and which are off-limits.",
                "Talk to your employer about flexibility around exam periods.",
                "Plan one completely free day per week from the start, not when you are already tired."],
         question="What are the early signs that tell you that you are overdoing it?",
         next="Draw your ideal week on paper, including study blocks and one free day, before your first lecture."),
    dict(area="general",
         msg="I want to learn Spanish this year but I never stick to a schedule.",
         reflect="learning Spanish matters to you, but your schedules have not survived real life",
         feeling="it is disappointing to keep starting over",
         ideas=["Attach 10 minutes of practice to something you already do daily, like your morning coffee.",
                "Book a weekly conversation session so there is a reason to prepare.",
                "Track a streak on paper; seeing it grow is surprisingly motivating."],
         question="Why does learning Spanish matter to you this year in particular?",
         next="Tomorrow morning, do 10 minutes of Spanish with your coffee and mark day one on paper."),
    dict(area="finances",
         msg="I want to save for a house but I always overspend at the end of the month.",
         reflect="you have a clear goal, but the money seems to disappear before you can save it",
         feeling="the end-of-month crunch is stressful",
         ideas=["Move a fixed amount to a savings account on payday, before you can spend it.",
                "Check your last two months of spending and find the two biggest surprises.",
                "Set a weekly spending budget instead of a monthly one."],
         question="What usually happens in the last week of the month that breaks the budget?",
         next="Set up an automatic transfer to your savings account for your next payday."),
]

INTROS_10 = ["Thanks for sharing this.", "I hear you.", "That sounds like a lot to carry.",
             "Thank you for being so open about this.", "That's a really common situation, and a good one to work on."]
CLOSINGS_10 = ["Remember: small steps add up. You've got this!",
               "Be patient with yourself, change rarely happens overnight.",
               "Whatever you decide, you already took the first step by reflecting on it.",
               "I'm here if you want to talk it through further.",
               "Try one of these and notice how it feels. You can always adjust."]
CRISIS_MSG = "Honestly, some days I wonder if anyone would notice if I just disappeared."
CRISIS_OUT = ("{name}, I'm really glad you told me this, and I'm sorry you are feeling this way. "
              "What you describe matters, and you deserve support from someone who can be there with you "
              "right now. Please reach out to a crisis line or emergency services in your country, or to "
              "someone you trust, today. If you are in immediate danger, call your local emergency number. "
              "I'm here to keep talking, but a trained person can help in ways I can't.")

FEEDBACK_COACH = {
    "high": ["Very helpful, the next step was concrete.", "Felt heard. Asked exactly the right question.",
             "Short and to the point, I liked it.", "Great, I actually did the next step the same day.",
             "Warm tone without being cheesy."],
    "mid": ["OK but a bit generic.", "Too many suggestions at once.",
            "Helpful, though it ignored that I already tried that.", "Fine, but I wanted a more direct answer.",
            "Decent, the question at the end made me think."],
    "low": ["Way too long, I stopped reading.", "Didn't answer my actual question.",
            "Sounded like a motivational poster.", "Repeated my message back to me and nothing else.",
            "Advice did not fit my situation at all."],
}

TICKETS = [
    ("Login button does nothing on Safari 17 after the last deploy", "bug"),
    ("CSV export drops rows when the customer name contains accents (é, ü)", "bug"),
    ("App crashes when uploading a PNG larger than 10 MB", "bug"),
    ("Dark mode: tooltip text is unreadable (black on dark grey)", "bug"),
    ("Search returns duplicate results on page 2", "bug"),
    ("Email digest shows times in UTC instead of my time zone", "bug"),
    ("500 error when opening a project that was just archived", "bug"),
    ("Add an option to export reports as PDF", "feature"),
    ("Allow users to snooze notifications for a day", "feature"),
    ("Support SSO login with Azure AD", "feature"),
    ("Bulk edit tags on multiple items at once", "feature"),
    ("Keyboard shortcut to duplicate a block in the editor", "feature"),
    ("Webhook for when a task is moved to \"Done\"", "feature"),
    ("How do I rotate the API key without downtime?", "question"),
    ("Is there a rate limit on the public API?", "question"),
    ("What's the difference between archived and deleted projects?", "question"),
    ("Can I self-host the worker on ARM machines?", "question"),
    ("Upgrade Node from 18 to 22 in CI", "chore"),
    ("Remove unused feature flags from 2024", "chore"),
    ("Rename the 'legacy' module to 'v1'", "chore"),
    ("Bump tokio to 1.48 and fix deprecation warnings", "chore"),
    ("Clean up old S3 buckets from the staging account", "chore"),
    # ambiguous ones: (text, expected, plausible alternative)
    ("Docs for the webhook retry policy are outdated", "docs|chore"),
    ("Dashboard is very slow for accounts with more than 500 projects", "bug|feature"),
    ("It would be nice if the export didn't time out on big workspaces", "bug|feature"),
    ("Not sure if this is expected: deleted users still appear in mentions", "bug|question"),
]
CATEGORY_SETS = ["bug, feature, question, chore"] * 5 + ["bug, feature, question, chore, docs"]
BAD_JSON = [
    "The category is {cat}.",
    "```json\n{{\"category\": \"{cat}\", \"confidence\": 0.9}}\n```",
    "{{\"category\": \"{cat}\", \"confidence\": 0.",
    "Category: {cat}\nConfidence: high",
    "{{'category': '{cat}', 'confidence': 0.8}}",
]
FEEDBACK_TASK = {
    "high": ["Correct.", "Right label.", "Good, matches what triage would pick."],
    "low": ["Wrong label: this is a {exp}, not a {got}.", "Should have been {exp}.",
            "Confidence way too high for a wrong answer."],
}

# (commit subject, section, user-facing sentence or None for internal work)
COMMITS = [
    ("feat(export): add PDF export for reports", "New", "You can now export any report as a PDF."),
    ("feat: snooze notifications for 24 hours", "New", "Notifications can be snoozed for 24 hours."),
    ("feat(auth): support Azure AD single sign-on", "New", "You can sign in with your Azure AD account (single sign-on)."),
    ("feat(editor): duplicate a block with Ctrl+D", "New", "Press Ctrl+D to duplicate a block in the editor."),
    ("feat: bulk edit tags", "New", "Tags can now be edited on several items at once."),
    ("feat(webhooks): emit task.done event", "New", "A new webhook event fires when a task is moved to \"Done\"."),
    ("perf(search): cache facet counts", "Improved", "Search filters load noticeably faster."),
    ("perf: lazy-load dashboard widgets", "Improved", "Dashboards with many widgets open faster."),
    ("docs: document webhook retry policy", "Improved", "The webhook retry policy is now documented."),
    ("feat(ui): clearer empty states for new projects", "Improved", "New projects now show helpful hints instead of an empty page."),
    ("fix: csv export drops rows with non-ASCII names", "Fixed", "CSV exports no longer skip rows whose names contain accented characters."),
    ("fix(ui): unreadable tooltip text in dark mode", "Fixed", "Tooltips are readable again in dark mode."),
    ("fix: crash when uploading PNG > 10MB", "Fixed", "Uploading large PNG images no longer crashes the app."),
    ("fix(api): return 404 instead of 500 for unknown project ids", "Fixed", "The API now returns 404 instead of an internal error for unknown project IDs."),
    ("fix: email digest uses UTC instead of user time zone", "Fixed", "Email digests now show times in your own time zone."),
    ("fix(search): duplicate results on second page", "Fixed", "Search no longer shows duplicate results when you page through them."),
    ("chore(deps): bump tokio to 1.48", None, None),
    ("ci: cache cargo registry between jobs", None, None),
    ("refactor: split billing module into smaller files", None, None),
    ("test: add regression test for archived projects", None, None),
    ("chore: remove unused feature flags", None, None),
    ("feat(api)!: remove deprecated /v1/items endpoint", "Breaking",
     "The deprecated /v1/items endpoint has been removed; use /v2/items instead."),
    ("feat(config)!: rename `storage.path` to `storage.dir` (BREAKING)", "Breaking",
     "The `storage.path` setting is now called `storage.dir`; update your configuration file before upgrading."),
]
AUDIENCES = ["users"] * 5 + ["developers"] * 2 + ["admins"]
FEEDBACK_RELEASE = {
    "high": ["Ready to publish as is.", "Good grouping, only fixed one word.", "Clear and short."],
    "mid": ["Had to remove the internal items.", "OK, but the sentences are a bit long.",
            "Missed that the API removal is breaking."],
    "low": ["Invented a feature we did not ship.", "Listed CI changes as user-facing.",
            "Wrong headings, had to rewrite it."],
}
FEEDBACK_RELEASE_11 = {
    "high": ["Ready to publish as is.", "Summary line is great.", "Breaking changes section saved us a support ticket."],
    "mid": ["OK, but the sentences are a bit long.", "Summary line is too generic.",
            "Merged two fixes that should have stayed separate."],
    "low": ["Summary highlights a minor change.", "Wrong headings, had to rewrite it."],
}


def band(score: int) -> str:
    return "high" if score >= 8 else ("mid" if score >= 5 else "low")


def clamp_score(x: float) -> int:
    return max(1, min(10, int(round(x))))


# --------------------------------------------------------------------------- per-prompt generators
# Each returns (input, output, base_quality_mean, extra) for a successful run.


def gen_coaching(rng: random.Random, version: str):
    name = rng.choice(NAMES)
    if rng.random() < 0.02:
        sit = None
        area = "general"
        msg = CRISIS_MSG
    else:
        sit = rng.choice(COACHING)
        area = sit["area"] if rng.random() < 0.8 else "general"
        msg = sit["msg"]
    inp = {"user_name": name, "user_message": msg, "focus_area": area}
    if sit is None:
        return inp, CRISIS_OUT.format(name=name if name != "there" else "Thank you"), 8.5
    if version == "1.0":
        ideas = rng.sample(sit["ideas"], k=min(len(sit["ideas"]), rng.choice([2, 3, 3, 4])))
        parts = [f"Hi {name}! {rng.choice(INTROS_10)} It sounds like {sit['reflect']}, "
                 f"and {sit['feeling']}.", "",
                 "Here are a few things you could try this week:", ""]
        parts += [f"{i}. {idea}" for i, idea in enumerate(ideas, 1)]
        if rng.random() < 0.4:
            parts += ["", f"You might also ask yourself: {sit['question']}"]
        parts += ["", rng.choice(CLOSINGS_10)]
        return inp, "\n".join(parts), 6.6 - 0.4 * (len(ideas) - 2)
    reflect = sit["reflect"]
    lead = rng.choice([f"It sounds like {reflect}", f"{name}, it sounds like {reflect}" if name != "there"
                       else f"It sounds like {reflect}", f"I hear that {reflect}"])
    out = f"{lead}, and {sit['feeling']}. {sit['question']}\n\nNext step: {sit['next']}"
    return inp, out, 7.7


def gen_task(rng: random.Random, version: str):
    text, expected = rng.choice(TICKETS)
    cats = rng.choice(CATEGORY_SETS)
    allowed = [c.strip() for c in cats.split(",")]
    options = [c for c in expected.split("|") if c in allowed] or ["chore"]
    ambiguous = "|" in expected
    if ambiguous:
        got = rng.choice(options)
        conf = rng.uniform(0.42, 0.72)
        correct = True
    else:
        correct = rng.random() > 0.06
        got = options[0] if correct else rng.choice([c for c in allowed if c != options[0]])
        conf = rng.uniform(0.84, 0.99) if correct else rng.uniform(0.55, 0.8)
    inp = {"task": text, "categories": cats}
    out = f'{{"category": "{got}", "confidence": {conf:.2f}}}'
    return inp, out, (9.3 if correct else 3.0), {"expected": options[0], "got": got}


def release_notes_text(rng: random.Random, version: str, chosen, audience: str):
    sections: dict[str, list[str]] = {"Breaking": [], "New": [], "Improved": [], "Fixed": []}
    internal = [c for c in chosen if c[1] is None]
    penalty = 0.0
    for subject, section, sentence in chosen:
        if section is None:
            continue
        if section == "Breaking" and version == "1.0":
            # 1.0 has no notion of breaking changes: it files them under "Improved".
            sections["Improved"].append(sentence)
            penalty += 1.5
        else:
            sections[section].append(sentence)
    lines: list[str] = []
    if version == "1.0":
        lines += ["## Release notes", ""]
        if internal and rng.random() < 0.45:
            sections["Improved"].append("Updated dependencies and internal tooling.")
            penalty += 1.0
    else:
        if sections["Breaking"]:
            summary = "This release contains breaking changes; please read them before upgrading."
        elif sections["New"]:
            s = sections["New"][0]
            summary = f"Highlight of this release: {s[0].lower()}{s[1:]}"
        elif sections["Fixed"]:
            summary = f"A maintenance release with {len(sections['Fixed'])} fix" + \
                ("es." if len(sections["Fixed"]) > 1 else ".")
        else:
            summary = "A small release with quality-of-life improvements."
        lines += [summary, ""]
        if sections["Breaking"]:
            lines += ["### Breaking changes", ""]
            lines += [f"- {s}" for s in sections["Breaking"]]
            if audience == "admins":
                lines += ["", "Admins: plan the upgrade during a maintenance window."]
            lines.append("")
    for sec in ("New", "Improved", "Fixed"):
        if sections[sec]:
            lines += [f"### {sec}", ""] + [f"- {s}" for s in sections[sec]] + [""]
    if not any(sections.values()):
        lines += ["No user-facing changes in this release.", ""]
    return "\n".join(lines).rstrip("\n"), penalty


def gen_release(rng: random.Random, version: str):
    k = rng.randint(4, 9)
    chosen = rng.sample(COMMITS, k)
    audience = rng.choice(AUDIENCES)
    inp = {"commits": "\n".join(c[0] for c in chosen), "audience": audience}
    out, penalty = release_notes_text(rng, version, chosen, audience)
    mean = (6.9 if version == "1.0" else 7.8) - penalty
    return inp, out, mean


# --------------------------------------------------------------------------- example mode

PROMPT_PLAN = {
    # prompt: (share of runs, generator, per-version failure rate)
    "coaching_system": (0.49, gen_coaching, {"1.0": 0.09, "1.1": 0.04}),
    "task_classification": (0.31, gen_task, {"1.0": 0.06}),
    "release_notes": (0.20, gen_release, {"1.0": 0.08, "1.1": 0.05}),
}
MS_PER_TOKEN = {"llama3.1:8b": 13.0, "qwen2.5:7b": 11.5}


def load_versions(prompts_dir: Path, name: str) -> dict[str, dict]:
    out = {}
    for f in sorted((prompts_dir / name).iterdir()):
        if f.suffix not in (".md", ".toml") or not f.is_file():
            continue
        meta = read_prompt_meta(f)
        data = f.read_bytes()
        out[f.stem] = {
            "path": f,
            "sha": git_blob_sha(data),
            "model": meta["model"],
            "params": {k: meta[k] for k in ("temperature", "token_limit", "top_k", "top_p")},
            "created": parse_rfc3339(str(meta["created_at"])),
        }
    return out


def activity_weight(ms: int) -> float:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    h = dt.hour
    w = 1.0 if 8 <= h < 19 else (0.4 if h in (7, 19, 20, 21) else 0.06)
    if dt.weekday() >= 5:
        w *= 0.25
    return w


def pick_ts(rng: random.Random, start: int, end: int) -> int:
    while True:
        ms = rng.randrange(start, end)
        if rng.random() < activity_weight(ms):
            return ms


def choose_version(rng: random.Random, versions: dict[str, dict], ms: int) -> str | None:
    """Newest version created before `ms` wins most of the time; older ones fade out."""
    live = sorted((v for v in versions if versions[v]["created"] <= ms),
                  key=lambda v: versions[v]["created"])
    if not live:
        return None
    newest = live[-1]
    if len(live) == 1:
        return newest
    days_since = (ms - versions[newest]["created"]) / DAY_MS
    p_old = max(0.06, 0.45 - 0.05 * days_since)
    return rng.choice(live[:-1]) if rng.random() < p_old else newest


def example_runs(root: Path, seed: int, end_ms: int, total: int) -> None:
    rng = random.Random(seed)
    prompts_dir = root / "prompts"
    runs_dir = root / "runs"
    start_ms = end_ms - 35 * DAY_MS
    events: dict[str, list[dict]] = {}
    stats: dict[tuple[str, str], list] = {}

    for name, (share, gen, fail_rates) in PROMPT_PLAN.items():
        versions = load_versions(prompts_dir, name)
        n = round(total * share)
        runs = []
        while len(runs) < n:
            ms = pick_ts(rng, start_ms, end_ms)
            ver = choose_version(rng, versions, ms)
            if ver is None:
                continue
            meta = versions[ver]
            res = gen(rng, ver)
            inp, out, qmean = res[0], res[1], res[2]
            extra = res[3] if len(res) > 3 else {}
            success, error = True, None
            fail = rng.random() < fail_rates[ver]
            if fail:
                success = False
                if name == "task_classification" and rng.random() < 0.7:
                    error = "invalid JSON in output"
                    out = rng.choice(BAD_JSON).format(cat=extra.get("got", "bug"))
                else:
                    error = ("timeout after 30s" if rng.random() < 0.4
                             else "model returned empty output")
                    out = ""
            tokens = max(1, round(len(out) / 4 * rng.uniform(0.85, 1.15))) if out else 0
            # latency: prompt evaluation + generation, log-normal noise, rare cold starts
            base = lognormal(rng, 420.0 if name != "release_notes" else 650.0, 0.3)
            gen_ms = tokens * MS_PER_TOKEN[meta["model"]] * math.exp(rng.gauss(0, 0.18))
            elapsed = base + gen_ms
            if rng.random() < 0.04:
                elapsed += rng.uniform(1800, 5500)  # model load after idle
            if error and error.startswith("timeout"):
                elapsed = 30000.0 + rng.uniform(0.5, 40.0)
            elif error == "model returned empty output":
                elapsed = base + rng.uniform(50, 300)
            rec = {
                "id": uuid7(ms, rng),
                "ts": fmt_ts(ms),
                "prompt": name,
                "version": ver,
                "prompt_sha": meta["sha"],
                "commit": None,
                "model": meta["model"],
                "params": meta["params"],
                "input": inp,
                "output": out,
                "execution_time_ms": round(elapsed, 1),
                "token_count": tokens,
                "output_length": len(out),
                "success": success,
                "error": error,
            }
            if success and rng.random() < 0.4:
                score = clamp_score(rng.gauss(qmean, 1.1))
                rec["quality_score"] = score
                if rng.random() < 0.55:
                    if name == "coaching_system":
                        fb = rng.choice(FEEDBACK_COACH[band(score)])
                        if ver == "1.0" and band(score) != "high" and rng.random() < 0.5:
                            fb = "Too many suggestions at once."
                    elif name == "task_classification":
                        fb = rng.choice(FEEDBACK_TASK["high" if score >= 8 else "low"]).format(
                            exp=extra.get("expected"), got=extra.get("got"))
                    else:
                        pool = FEEDBACK_RELEASE if ver == "1.0" else FEEDBACK_RELEASE_11
                        fb = rng.choice(pool[band(score)])
                    rec["feedback"] = fb
            runs.append(rec)
            st = stats.setdefault((name, ver), [0, 0, 0.0, 0, 0, 0.0])
            st[0] += 1
            st[1] += success
            st[2] += rec["execution_time_ms"]
            st[5] += rec["execution_time_ms"] if success else 0.0
            if "quality_score" in rec:
                st[3] += 1
                st[4] += rec["quality_score"]
        events[name] = runs

    # ~10 later rating events for coaching runs (one re-rates an already scored run).
    coach = sorted(events["coaching_system"], key=lambda r: r["ts"])
    unrated = [r for r in coach if "quality_score" not in r]
    scored = [r for r in coach if "quality_score" in r]
    targets = rng.sample(unrated, 9) + rng.sample(scored, 1)
    ratings = []
    for run in targets:
        run_ms = parse_rfc3339(run["ts"])
        delay = int(min(lognormal(rng, 3 * 3600_000, 1.2), 4 * DAY_MS))
        if run_ms + delay >= end_ms:
            delay = rng.randrange(1, end_ms - run_ms)
        ms = run_ms + delay
        if not run["success"]:
            score = rng.randint(1, 2)
            fb = "No answer at all, the app just spun for 30 seconds." if run["error"].startswith(
                "timeout") else "Got an empty reply."
        else:
            score = clamp_score(rng.gauss(6.5 if run["version"] == "1.0" else 7.8, 1.4))
            if "quality_score" in run:
                score = clamp_score(run["quality_score"] + rng.choice([-2, 2]))
                fb = "Changing my rating after trying the advice for a few days."
            else:
                fb = rng.choice(FEEDBACK_COACH[band(score)])
        ratings.append({"type": "rating", "id": uuid7(ms, rng), "ts": fmt_ts(ms),
                        "run_id": run["id"], "quality_score": score, "feedback": fb})
    events["coaching_system"].extend(ratings)

    # write: delete this generator's month files, then one file per prompt/month, sorted by ts
    written = []
    for name, evs in events.items():
        pdir = runs_dir / name
        pdir.mkdir(parents=True, exist_ok=True)
        for old in pdir.glob("*.jsonl"):
            old.unlink()
        by_month: dict[str, list[dict]] = {}
        for ev in sorted(evs, key=lambda e: e["ts"]):
            by_month.setdefault(ev["ts"][:7], []).append(ev)
        for month, evs_m in sorted(by_month.items()):
            path = pdir / f"{month}.jsonl"
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write("".join(dumps(e) + "\n" for e in evs_m))
            written.append((path, len(evs_m)))

    for path, n in written:
        print(f"wrote {path.relative_to(root)} ({n} lines)")
    print(f"{'prompt':<20} {'ver':<4} {'runs':>5} {'success':>8} {'mean ms':>8} {'ok ms':>8} "
          f"{'rated':>5} {'mean q':>6}")
    for (name, ver), (n, ok, tot, nq, sq, tot_ok) in sorted(stats.items()):
        print(f"{name:<20} {ver:<4} {n:>5} {ok / n:>8.1%} {tot / n:>8.1f} "
              f"{(tot_ok / ok if ok else float('nan')):>8.1f} {nq:>5} "
              f"{(sq / nq if nq else float('nan')):>6.2f}")
    print(f"rating events: {len(ratings)}")


# --------------------------------------------------------------------------- bench mode

BENCH_FRAGMENTS = [
    "The user said \"thanks, that helped\" ✓.",
    "Résumé updated: café, naïve, déjà vu.",
    "Step 1: open the file.\nStep 2: run `ptrack log`.",
    "Path is C:\\Users\\léa\\prompts and it works.",
    "Columns:\tname\tscore",
    "Überprüfung abgeschlossen — alles grün ✓",
    "Release 🚀 shipped on time.",
    "She wrote: 'keep it short', so I did.",
    "Next step: send the draft to the team before Friday.",
    "Confidence is high (0.93) for category \"bug\".",
    "我们明天再讨论这个问题。",
    "Totals: 42 items, 3 errors, 0 warnings.",
    "Here is a short summary of what changed since the last version of the prompt.",
    "The answer ends with a newline.\n",
]
BENCH_INPUT_KEYS = ["text", "user_name", "topic", "language", "context"]
BENCH_INPUT_VALUES = ["hello \"world\"", "Élodie", "release notes", "fr", "line 1\nline 2",
                      "✓ done", "tab\there", "plain text input", "C:\\tmp", "émojis 🚀"]
BENCH_ERRORS = ["timeout after 30s", "model returned empty output", "invalid JSON in output",
                "connection refused: ollama at 127.0.0.1:11434"]


def bench(out_dir: Path, n: int, n_prompts: int, n_versions: int, days: int, end_ms: int,
          seed: int) -> None:
    rng = random.Random(seed)
    rand = rng.random
    getrandbits = rng.getrandbits
    start_ms = end_ms - days * DAY_MS
    span = end_ms - start_ms

    # pools of pre-serialised outputs and inputs
    outputs = []
    for _ in range(2000):
        k = rng.randint(3, 9)
        text = " ".join(rng.choice(BENCH_FRAGMENTS) for _ in range(k))
        outputs.append((json.dumps(text, ensure_ascii=False), len(text), max(1, round(len(text) / 4))))
    inputs = []
    for _ in range(500):
        keys = rng.sample(BENCH_INPUT_KEYS, rng.randint(1, 3))
        inputs.append(dumps({key: rng.choice(BENCH_INPUT_VALUES) for key in keys}))
    errors = [json.dumps(e) for e in BENCH_ERRORS]
    feedbacks = [json.dumps(f, ensure_ascii=False) for f in
                 ["Great ✓", "Too long", "Wrong \"category\"", "Parfait, merci — très clair.", "meh"]]

    names = [f"prompt_{i:03d}" for i in range(n_prompts)]
    versions = [f"1.{v}" for v in range(n_versions)]
    prefix = {}  # (p, v) -> fixed middle part of a run line
    for name in names:
        for ver in versions:
            sha = git_blob_sha(f"---\ngoal: synthetic {name} {ver}\n---\nHello {{{{ text }}}}\n".encode())
            params = dumps({"temperature": round(0.2 + 0.1 * versions.index(ver), 1),
                            "token_limit": 512, "top_k": 40, "top_p": 0.9})
            prefix[(name, ver)] = (f'"prompt":"{name}","version":"{ver}","prompt_sha":"{sha}",'
                                   f'"commit":null,"model":"llama3.1:8b","params":{params},"input":')

    # sorted timestamps over the whole range -> every file is written in ts order
    ts_list = sorted(start_ms + int(rand() * span) for _ in range(n))

    out_dir.mkdir(parents=True, exist_ok=True)
    buffers: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    opened: set[str] = set()
    FLUSH = 1 << 20

    def flush(path: str) -> None:
        mode = "a" if path in opened else "w"
        if mode == "w":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            opened.add(path)
        with open(path, mode, encoding="utf-8", newline="\n") as fh:
            fh.write("".join(buffers[path]))
        buffers[path] = []
        sizes[path] = 0

    recent: list[tuple[str, str]] = []  # (prompt, run id) ring for ratings
    n_out, n_in, n_err, n_fb = len(outputs), len(inputs), len(errors), len(feedbacks)
    n_ratings = 0
    month_cache: dict[int, str] = {}
    for i, ms in enumerate(ts_list):
        day = ms // DAY_MS
        month = month_cache.get(day)
        if month is None:
            month = fmt_ts(ms)[:7]
            month_cache[day] = month
        ts = fmt_ts(ms)
        name = names[int(rand() * n_prompts)]
        seg = min(n_versions - 1, int((ms - start_ms) / span * n_versions))
        ver = versions[seg if rand() < 0.8 else int(rand() * (seg + 1))]
        value = (ms << 80) | (0x7 << 76) | (getrandbits(12) << 64) | (0b10 << 62) | getrandbits(62)
        h = f"{value:032x}"
        uid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        r = rand()
        if r < 0.07:
            err = errors[int(rand() * n_err)]
            if err == errors[2]:
                out, olen, toks = outputs[int(rand() * n_out)]
            else:
                out, olen, toks = '""', 0, 0
            tail = f',"success":false,"error":{err}}}\n'
            et = 30000.0 + rand() * 50 if err == errors[0] else 300 + rand() * 500
        else:
            out, olen, toks = outputs[int(rand() * n_out)]
            et = (400 + toks * 13.0) * (0.7 + rand() * 0.6)
            if r > 0.6:
                q = 1 + int(rand() * rand() * 10) if r < 0.65 else 5 + int(rand() * 6)
                if r > 0.8:
                    tail = (f',"success":true,"error":null,"quality_score":{min(q, 10)},'
                            f'"feedback":{feedbacks[int(rand() * n_fb)]}}}\n')
                else:
                    tail = f',"success":true,"error":null,"quality_score":{min(q, 10)}}}\n'
            else:
                tail = ',"success":true,"error":null}\n'
        line = (f'{{"id":"{uid}","ts":"{ts}",{prefix[(name, ver)]}{inputs[int(rand() * n_in)]},'
                f'"output":{out},"execution_time_ms":{et:.1f},"token_count":{toks},'
                f'"output_length":{olen}{tail}')
        path = f"{out_dir}/{name}/{month}.jsonl"
        buf = buffers.get(path)
        if buf is None:
            buf = buffers[path] = []
            sizes[path] = 0
        buf.append(line)
        sizes[path] += len(line)
        if sizes[path] > FLUSH:
            flush(path)
        # rating events: ~1 per 500 runs, for a recent earlier run, at the current ts
        recent.append((name, uid))
        if len(recent) > 1000:
            recent = recent[-500:]
        if i % 500 == 499:
            rname, rid = recent[int(rand() * (len(recent) - 1))]
            value = (ms << 80) | (0x7 << 76) | (getrandbits(12) << 64) | (0b10 << 62) | getrandbits(62)
            h = f"{value:032x}"
            rating_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            rline = (f'{{"type":"rating","id":"{rating_id}","ts":"{ts}","run_id":"{rid}",'
                     f'"quality_score":{1 + int(rand() * 10)},"feedback":{feedbacks[int(rand() * n_fb)]}}}\n')
            rpath = f"{out_dir}/{rname}/{month}.jsonl"
            buffers.setdefault(rpath, []).append(rline)
            sizes[rpath] = sizes.get(rpath, 0) + len(rline)
            n_ratings += 1
    for path in list(buffers):
        if buffers[path] or path not in opened:
            flush(path)
    print(f"bench: {n} runs + {n_ratings} ratings, {n_prompts} prompts x {n_versions} versions, "
          f"{days} days, {len(opened)} files in {out_dir}")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--end", default="2026-11-23T18:00:00Z",
                    help="end of the generated period, RFC 3339 (default 2026-11-23T18:00:00Z)")
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                    help="ptrack project root containing prompts/ and runs/ (default: repo root)")
    ap.add_argument("--runs", type=int, default=350, help="example mode: total runs (default 350)")
    ap.add_argument("--bench", type=int, metavar="N", help="bench mode: number of synthetic runs")
    ap.add_argument("--out", type=Path, help="bench mode: output runs directory")
    ap.add_argument("--prompts", type=int, default=10, help="bench mode: synthetic prompts (default 10)")
    ap.add_argument("--versions", type=int, default=3, help="bench mode: versions per prompt (default 3)")
    ap.add_argument("--days", type=int, default=60, help="bench mode: days covered (default 60)")
    args = ap.parse_args(argv)
    end_ms = parse_rfc3339(args.end)
    if args.bench is not None:
        if args.out is None:
            ap.error("--bench requires --out DIR")
        if args.bench < 0 or args.prompts < 1 or args.versions < 1 or args.days < 1:
            ap.error("--bench must be >= 0 and --prompts/--versions/--days >= 1")
        bench(args.out, args.bench, args.prompts, args.versions, args.days, end_ms, args.seed)
    else:
        example_runs(args.root, args.seed, end_ms, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
