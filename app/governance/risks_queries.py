"""Read side of the risk register: the filters a list URL carries, the filtered list and the heatmap counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from app.core.db import db
from app.core.errors import ValidationFailed
from app.governance.risks_models import Risk, RiskCategory, RiskStatus, Treatment
from app.identity.models import User

BASES = ("residual", "inherent")
# Colour bands of the heatmap by score (likelihood × impact): low, moderate, high, critical.
BANDS = ((4, "low", "Low"), (9, "moderate", "Moderate"), (14, "high", "High"), (25, "critical", "Critical"))


def band(score: int) -> tuple[str, str]:
    return next((key, label) for top, key, label in BANDS if score <= top)


@dataclass
class RiskFilters:
    category: str = ""
    treatment: str = ""
    owner: str = ""  # "me", "none" or a user's public id
    status: str = "open"  # open | closed | all
    overdue: bool = False
    cell: tuple[int, int] | None = None  # (likelihood, impact)
    basis: str = "residual"  # which scores the heatmap and the cell filter use
    raw: dict = field(default_factory=dict)  # what was asked, to put back into the form and links

    def args(self, **override) -> dict:
        """The query string of these filters (empty values left out), with some replaced."""
        values = {"category": self.category, "treatment": self.treatment, "owner": self.owner,
                  "status": self.status if self.status != "open" else "", "overdue": "1" if self.overdue else "",
                  "cell": f"{self.cell[0]}-{self.cell[1]}" if self.cell else "",
                  "basis": self.basis if self.basis != "residual" else ""} | override
        return {k: v for k, v in values.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.args(basis=""))


def parse_filters(args) -> RiskFilters:
    """Filters from a query string; unknown values are a 422 naming the field (the form keeps what was typed)."""
    errors: dict[str, list[str]] = {}
    raw = {k: (args.get(k) or "").strip() for k in ("category", "treatment", "owner", "status", "overdue", "cell",
                                                    "basis")}
    f = RiskFilters(raw=raw)
    if raw["category"] and raw["category"] not in {c.value for c in RiskCategory}:
        errors["category"] = ["Choose a category from the list."]
    f.category = raw["category"]
    if raw["treatment"] and raw["treatment"] not in {t.value for t in Treatment}:
        errors["treatment"] = ["Choose a treatment from the list."]
    f.treatment = raw["treatment"]
    f.owner = raw["owner"][:36]
    if raw["status"] and raw["status"] not in ("open", "closed", "all"):
        errors["status"] = ["Choose open, closed or all."]
    f.status = raw["status"] or "open"
    f.overdue = raw["overdue"] in ("1", "true", "on", "yes")
    if raw["basis"] and raw["basis"] not in BASES:
        errors["basis"] = ["Choose residual or inherent scores."]
    f.basis = raw["basis"] if raw["basis"] in BASES else "residual"
    if raw["cell"]:
        likelihood, _, impact = raw["cell"].partition("-")
        if likelihood.isdigit() and impact.isdigit() and 1 <= int(likelihood) <= 5 and 1 <= int(impact) <= 5:
            f.cell = (int(likelihood), int(impact))
        else:
            errors["cell"] = ["A heatmap cell is likelihood-impact, each 1 to 5 (for example 4-5)."]
    if errors:
        raise ValidationFailed(errors, "Some filters are not valid: " + " ".join(m for v in errors.values()
                                                                               for m in v))
    return f


def _columns(basis: str):
    if basis == "inherent":
        return Risk.inherent_likelihood, Risk.inherent_impact
    return Risk.residual_likelihood, Risk.residual_impact


def _where(stmt: sa.Select, f: RiskFilters, *, me: User | None, today: date, with_cell: bool = True) -> sa.Select:
    if f.category:
        stmt = stmt.where(Risk.category == RiskCategory(f.category))
    if f.treatment:
        stmt = stmt.where(Risk.treatment == Treatment(f.treatment))
    if f.owner == "me":
        stmt = stmt.where(Risk.owner_id == (me.id if me else -1))
    elif f.owner == "none":
        stmt = stmt.where(Risk.owner_id.is_(None))
    elif f.owner:
        stmt = stmt.where(Risk.owner_id.in_(sa.select(User.id).where(User.public_id == f.owner)))
    if f.status in ("open", "closed"):
        stmt = stmt.where(Risk.status == RiskStatus(f.status))
    if f.overdue:
        stmt = stmt.where(Risk.status == RiskStatus.OPEN, Risk.review_date < today)
    if with_cell and f.cell:
        likelihood, impact = _columns(f.basis)
        stmt = stmt.where(likelihood == f.cell[0], impact == f.cell[1])
    return stmt


def risk_select(f: RiskFilters, *, me: User | None, today: date) -> sa.Select:
    """The filtered register, for keyset paging on Risk.id (newest first)."""
    return _where(sa.select(Risk), f, me=me, today=today)


def risk_list(f: RiskFilters, *, me: User | None, today: date) -> list[Risk]:
    """The filtered register for the page: highest residual score first, then by number."""
    stmt = risk_select(f, me=me, today=today).order_by(
        (Risk.residual_likelihood * Risk.residual_impact).desc(), Risk.number)
    return list(db.session.scalars(stmt))


def heatmap(f: RiskFilters, *, me: User | None, today: date) -> dict[tuple[int, int], int]:
    """Risks per (likelihood, impact) cell under every filter but the cell itself (so all cells stay clickable)."""
    likelihood, impact = _columns(f.basis)
    stmt = _where(sa.select(likelihood, impact, sa.func.count()).select_from(Risk), f, me=me, today=today,
                  with_cell=False).group_by(likelihood, impact)
    return {(row[0], row[1]): row[2] for row in db.session.execute(stmt)}


def history(tenant, risk: Risk, limit: int = 50) -> list:
    """The risk's audit records, newest first (the audit log is the history: nothing is kept twice)."""
    from app.audit.queries import tenant_records
    from app.core.audit import AuditRecord

    return list(db.session.scalars(tenant_records(tenant).where(AuditRecord.target_id == risk.public_id)
                                   .order_by(AuditRecord.seq.desc()).limit(limit)))


def summary(risks: list[Risk], *, today: date, threshold: int) -> dict[str, int]:
    """Headline counts of the listed risks, shown beside the heatmap."""
    return {"total": len(risks), "overdue": sum(1 for r in risks if r.is_overdue(today)),
            "pending": sum(1 for r in risks if r.acceptance.value == "pending"),
            "above": sum(1 for r in risks if r.residual_score >= threshold),
            "critical": sum(1 for r in risks if r.residual_score >= 15)}
