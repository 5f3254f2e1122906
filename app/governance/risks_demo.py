"""Demo risk register for `vigil seed-demo`: twenty risks across the heatmap and every category, some with
overdue reviews, linked to demo controls, cases and AI systems where those exist (found by name, skipped
otherwise), two accepted below the threshold and one above it waiting for the admin's approval."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.compliance.models import Control
from app.core.db import db
from app.core.tenancy import Tenant, tenant_context
from app.governance import risks_services as services
from app.governance.ai_models import AISystem
from app.governance.risks_models import Risk
from app.identity.auth import member_actor
from app.identity.models import Membership, User
from app.soc.cases.models import Case

ADMIN, CORA, ANALYST = "admin@acme.test", "compliance@acme.test", "analyst@acme.test"

# (title, category, inherent L, I, residual L, I, treatment, review in days (negative = overdue), owner,
#  control name fragments, case title fragments, AI system name fragments, plan)
RISKS = (
    ("Ransomware encrypts file servers", "security", 4, 5, 3, 4, "mitigate", -12, ANALYST,
     ("backup", "incident"), ("encryption",), (), "Immutable backups, EDR on all servers, tested restores."),
    ("Phishing leads to account takeover", "security", 5, 4, 3, 3, "mitigate", 30, ANALYST,
     ("access",), ("phish",), (), "Phishing-resistant MFA (passkeys) for every member by Q1."),
    ("Unpatched internet-facing VPN appliance", "security", 4, 5, 2, 4, "mitigate", -3, ADMIN,
     ("vulnerab",), (), (), "Monthly patch window; vendor advisories watched by the SOC."),
    ("Privileged access not reviewed", "security", 3, 4, 2, 3, "mitigate", 60, ADMIN,
     ("access",), (), (), "Quarterly access review through SCIM group reports."),
    ("Customer data exposed through misconfigured storage bucket", "privacy", 3, 5, 2, 5, "mitigate", 14, CORA,
     ("data",), (), (), "Public-access block enforced by policy; weekly configuration scan."),
    ("Special-category data processed without DPIA", "privacy", 3, 4, 2, 4, "mitigate", -30, CORA,
     ("impact assessment",), (), ("CV",), "DPIA template in the AI intake; DPO sign-off required."),
    ("Retention periods exceeded for support tickets", "privacy", 4, 2, 3, 2, "accept", 90, CORA,
     ("retention",), (), (), "Accepted: deletion job ships next quarter; low impact meanwhile."),
    ("CV-screening model discriminates against protected groups", "ai_model", 4, 5, 4, 4, "mitigate", 21, CORA,
     ("risk management", "bias", "fundamental rights"), (), ("CV", "resume", "screening"),
     "Bias testing per release, human review of every rejection, Annex III conformity assessment."),
    ("Support chatbot gives wrong contractual answers", "ai_model", 4, 3, 3, 3, "mitigate", -5, CORA,
     ("transparen",), (), ("chat", "support"), "Answers grounded in the knowledge base; AI disclosure banner."),
    ("Model drift degrades fraud detection", "ai_model", 3, 4, 2, 4, "mitigate", 45, ANALYST,
     ("monitor",), (), ("fraud",), "Drift monitoring with alert thresholds; quarterly retraining."),
    ("Prompt injection exfiltrates internal documents", "ai_model", 4, 4, 3, 4, "mitigate", 10, ADMIN,
     ("security",), (), ("assistant", "copilot"), "Tool allow-list, output filtering, red-team exercise."),
    ("AI vendor trains on our customer data", "third_party", 3, 4, 1, 4, "transfer", 120, CORA,
     ("supplier", "vendor", "third"), (), (), "Contractual opt-out and DPA with audit rights."),
    ("Critical SaaS provider outage", "third_party", 3, 4, 3, 3, "transfer", -20, ADMIN,
     ("continuity",), (), (), "Cyber insurance and the provider's SLA credits; manual fallback."),
    ("Sub-processor in a country without adequacy decision", "third_party", 2, 4, 2, 2, "accept", 180, CORA,
     ("transfer",), (), (), "Accepted with standard contractual clauses in place."),
    ("Single on-call engineer for the SOC at night", "operational", 4, 3, 2, 3, "mitigate", 30, ADMIN,
     (), (), (), "Second responder rota from next month; escalation to the MSSP."),
    ("Backups never restored in a test", "operational", 3, 5, 1, 5, "mitigate", 7, ANALYST,
     ("backup",), (), (), "Quarterly restore test with evidence uploaded to the control."),
    ("Legacy finance server cannot be patched", "operational", 4, 4, 4, 4, "mitigate", -8, ADMIN,
     ("segment", "network"), (), (), "Network isolation; replacement budgeted. Acceptance requested."),
    ("EU AI Act obligations missed for high-risk systems", "compliance", 4, 5, 2, 5, "mitigate", 60, CORA,
     ("regulatory", "obligations"), (), ("CV",), "Obligations register per system; go-live approval gate."),
    ("ISO 27001 surveillance audit finds major nonconformity", "compliance", 2, 4, 1, 3, "mitigate", 90, CORA,
     ("internal audit",), (), (), "Internal audit before the surveillance visit."),
    ("Shadow AI tools used by staff", "compliance", 5, 3, 3, 2, "avoid", 20, CORA,
     ("AI policy", "inventory"), (), (), "Block unapproved AI domains at the proxy; AI acceptable-use policy."),
)
PENDING = "Legacy finance server cannot be patched"  # residual 16 ≥ 12: acceptance waits for the admin


def _first(model, column, fragments: tuple[str, ...]) -> list[str]:
    for fragment in fragments:
        found = db.session.scalar(sa.select(model).where(column.ilike(f"%{fragment}%")).order_by(model.id).limit(1))
        if found is not None:
            return [found.public_id]
    return []


def seed_risks(tenant: Tenant) -> list[str]:
    """Add the demo register unless the tenant has risks already."""
    with tenant_context(tenant):
        if db.session.scalar(sa.select(Risk.id).limit(1)):
            return []
        members = {m.user.email: m for m in db.session.scalars(
            sa.select(Membership).join(Membership.user).where(User.email.in_((ADMIN, CORA, ANALYST))))}
        if CORA not in members or ADMIN not in members:
            return []
        cora = member_actor(members[CORA])
        today = services.today()
        linked = 0
        for (title, category, il, ii, rl, ri, treatment, review_days, owner, controls, cases, systems,
             plan) in RISKS:
            owner_member = members.get(owner)
            risk = services.create_risk(
                actor=cora, title=title, category=category, inherent_likelihood=il, inherent_impact=ii,
                residual_likelihood=rl, residual_impact=ri, treatment=treatment, treatment_plan=plan,
                review_date=today + timedelta(days=review_days),
                owner=owner_member.user.public_id if owner_member else None,
                description="Raised at the annual risk workshop and scored by its owner against the 5 × 5 matrix; "
                            "see the linked controls for the safeguards in place.")
            links = {"controls": _first(Control, Control.name, controls), "cases": _first(Case, Case.title, cases),
                     "ai_systems": _first(AISystem, AISystem.name, systems)}
            if any(links.values()):
                services.set_links(risk, actor=cora, **links)
                linked += 1
            if title == PENDING:
                services.accept_risk(risk, actor=cora, note="Isolated on its own VLAN; replacement is budgeted "
                                                            "for next year. Residual risk is within appetite.")
    return [f"Risk register demo: {len(RISKS)} risks ({linked} linked to controls, cases or AI systems); "
            f"the acceptance of “{PENDING}” waits for admin@acme.test."]
