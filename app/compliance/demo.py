"""Demo compliance programme: EU AI Act, AI RMF and SOC 2 adopted at different stages, evidence of every freshness."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import sqlalchemy as sa

from app.compliance import evidence, scores, services
from app.compliance.loader import load_library
from app.compliance.models import Adoption, Control, ControlStatus, ScoreSnapshot
from app.core.actors import system_actor
from app.core.db import db, utcnow
from app.core.tenancy import tenant_context
from app.identity.models import Membership, User

# How far each programme has got: the share of its proposed controls implemented, in progress.
STAGES = [("soc2-2017", 0.8, 0.1), ("eu-ai-act-2024", 0.45, 0.3), ("nist-ai-rmf-1.0", 0.3, 0.3)]
DOCS = [
    ("{key} policy, signed", "pdf"), ("{key} quarterly review minutes", "pdf"), ("{key} test results", "csv"),
    ("{key} configuration export", "json"), ("{key} screenshot of the console", "png"), ("{key} runbook", "txt"),
]
# Days from today to expiry, by how fresh the evidence should look (None: no expiry).
FRESHNESS = [365, 200, None, 120, 18, 9, -12, 300]
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _file(kind: str, title: str) -> tuple[str, bytes]:
    name = title.lower().replace(" ", "-").replace(",", "")
    if kind == "pdf":
        return f"{name}.pdf", f"%PDF-1.7\n% {title}\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".encode()
    if kind == "csv":
        return f"{name}.csv", f"check,result,date\n{title},pass,2026-10-01\nfollow-up,pass,2026-10-15\n".encode()
    if kind == "json":
        return f"{name}.json", json.dumps({"exported": "2026-10-01", "title": title, "mfa": True}).encode()
    if kind == "png":
        return f"{name}.png", PNG + title.encode()
    return f"{name}.txt", f"{title}\n\n1. Detect\n2. Contain\n3. Recover\n".encode()


def _people() -> list[User]:
    return list(db.session.scalars(sa.select(User).join(Membership, Membership.user_id == User.id)
                                   .where(Membership.role.in_(["compliance", "admin"])).order_by(User.email)))


def _evidence_for(control: Control, actor, rng: random.Random, today) -> None:
    for i in range(rng.choice([1, 1, 2])):
        title_tpl, kind = rng.choice(DOCS)
        title = title_tpl.format(key=control.key)
        days = rng.choice(FRESHNESS)
        until = today + timedelta(days=days) if days is not None else None
        name, data = _file(kind, f"{title} {i + 1}")
        ev = evidence.upload_evidence(actor=actor, filename=name, stream=data, title=title,
                                      control_ids=[control.public_id], valid_until=until,
                                      valid_from=min(today, until) - timedelta(days=200) if until else None)
        roll = rng.random()
        if roll < 0.8:
            evidence.review_evidence(ev, actor=actor, decision="accepted", comment="Checked against the control.")
        elif roll < 0.9:
            evidence.review_evidence(ev, actor=actor, decision="rejected",
                                     comment="Out of date: shows last year's configuration.")


def _progress(fw_key: str, implemented: float, in_progress: float, actor, rng: random.Random) -> None:
    fw = services.framework_by_key(fw_key)
    if services.adoption_of(fw) is None:
        services.adopt_framework(fw, actor=actor)
    people, today = _people(), utcnow().date()
    for proposal in services.proposed_controls(fw):
        control = proposal["existing"]
        if control is None or control.status != ControlStatus.NOT_STARTED:
            continue  # already progressed by an earlier framework of the demo
        roll = rng.random()
        owner = rng.choice(people).public_id if people else None
        due = (today + timedelta(days=rng.randint(-10, 120))).isoformat()
        if roll < implemented:
            services.update_control(control, actor=actor, status="implemented", owner_id=owner,
                                    review_cadence_days=rng.choice([90, 182, 365]))
            _evidence_for(control, actor, rng, today)
        elif roll < implemented + in_progress:
            services.update_control(control, actor=actor, status="in_progress", owner_id=owner, due_date=due)
        elif roll < implemented + in_progress + 0.05:
            services.update_control(control, actor=actor, status="not_applicable", owner_id=owner,
                                    justification="We do not place general-purpose AI models on the market.")


def _backfill_trend(tenant) -> None:
    """Thirty days of snapshots rising to today's score, so the trend line has a history to show."""
    today = utcnow().date()
    current = scores.scores(scores.adopted_framework_ids())
    for fid, score in current.items():
        for back in range(30, 0, -1):
            day = today - timedelta(days=back)
            if db.session.scalar(sa.select(ScoreSnapshot.id).where(ScoreSnapshot.framework_id == fid,
                                                                  ScoreSnapshot.day == day)):
                continue
            met = round(score.met * (0.35 + 0.65 * (30 - back) / 30))
            db.session.add(ScoreSnapshot(framework_id=fid, day=day, met=met, applicable=score.applicable,
                                         total=score.total))
    db.session.commit()
    scores.snapshot_scores(tenant=tenant)


def seed_compliance(tenant) -> list[str]:
    """Load the library and give the tenant a compliance programme in progress (idempotent)."""
    report = load_library()
    with tenant_context(tenant):
        if db.session.scalar(sa.select(sa.func.count()).select_from(Adoption)):
            return [f"Compliance: library {'upgraded' if report.loaded else 'up to date'}; demo programme exists."]
        actor = system_actor(tenant, "seed-demo")
        rng = random.Random(2024_1689)
        for key, implemented, in_progress in STAGES:
            _progress(key, implemented, in_progress, actor, rng)
        evidence.flag_renewals(tenant=tenant)
        _backfill_trend(tenant)
        adopted = scores.scores(scores.adopted_framework_ids())
        lines = []
        for fid, score in adopted.items():
            fw = db.session.scalar(sa.select(Adoption).where(Adoption.framework_id == fid)).framework
            lines.append(f"  {fw.short_name:<12} {score.percent:>3}% ({score.met}/{score.applicable})")
        return ["Compliance programme seeded:"] + lines
