"""Demo policies for `vigil seed-demo`: five policies with history, two new versions awaiting approval.

Compliance asks the admins to approve a new AI acceptable-use version and the admin asks compliance
to approve an incident-response update, so both demo users find a request waiting in their inbox.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.compliance.models import Control
from app.core.db import db, utcnow
from app.core.tenancy import Tenant, tenant_context
from app.governance import policies_services as services
from app.governance.policies_models import Policy
from app.identity.auth import member_actor
from app.identity.models import Membership, User

AI_USE_V1 = """# AI acceptable use

## Purpose
This policy sets out how staff may use AI systems, including generative AI assistants, at Acme.

## Rules
1. Use only AI tools listed in the **AI system inventory**.
2. Never paste customer personal data, credentials or source code into external AI tools.
3. A person reviews every AI output before it reaches a customer.

## Exceptions
Ask the compliance team; exceptions are recorded in the risk register.
"""

AI_USE_V2 = AI_USE_V1.replace(
    "3. A person reviews every AI output before it reaches a customer.",
    "3. A person reviews every AI output before it reaches a customer.\n"
    "4. Label AI-generated content shown to customers (EU AI Act, Article 50).")

AI_USE_V3 = AI_USE_V2.replace(
    "2. Never paste customer personal data, credentials or source code into external AI tools.",
    "2. Never paste customer personal data, special-category data, credentials or source code into external "
    "AI tools, including browser extensions.") + """
## High-risk AI systems
Systems classified high-risk under the EU AI Act (for example CV screening) need an approved
go-live, a named human overseer and a fundamental-rights impact assessment before use.
"""

INCIDENT_V1 = """# Incident response

## Scope
Security incidents affecting Acme systems, data or AI systems.

## Severity
| Severity | Example | Respond within |
| --- | --- | --- |
| Critical | ransomware, data exfiltration | 15 minutes |
| High | compromised account | 1 hour |
| Medium | malware on one laptop | 4 hours |

## Roles
- **Incident lead**: the on-call responder.
- **Communications**: the head of compliance.

## Notification
Personal data breaches are reported to the supervisory authority within 72 hours (GDPR Art. 33).
"""

MEDIUM_ROW = "| Medium | malware on one laptop | 4 hours |"
INCIDENT_V2 = INCIDENT_V1.replace(MEDIUM_ROW, MEDIUM_ROW + "\n| Low | phishing reported, not clicked | 1 day |")

INCIDENT_V3 = INCIDENT_V2.replace(
    "- **Communications**: the head of compliance.",
    "- **Communications**: the head of compliance.\n- **AI incidents**: the AI system owner joins the call; "
    "serious incidents of high-risk AI systems are reported under EU AI Act Article 73.")

ACCESS = """# Access control

- Access follows least privilege and is reviewed every quarter.
- Single sign-on with MFA is required for every console; passkeys are preferred.
- Leavers lose access the same day through SCIM de-provisioning.
- Privileged actions (API keys, approvals of high-impact changes) need a fresh step-up.
"""

DATA = """# Data classification and retention

| Class | Examples | Keep |
| --- | --- | --- |
| Public | website, press releases | as needed |
| Internal | runbooks, this policy | 5 years |
| Confidential | customer data, contracts | contract + 1 year |
| Restricted | special-category data, secrets | minimum needed, encrypted |

Training data for AI models is classified like its most sensitive record.
"""

VENDOR = """# Third-party and AI vendor management

1. Every vendor processing Acme data has a DPA and a security review before onboarding.
2. AI vendors also state where models are hosted, whether prompts are kept, and whether they train on them.
3. Reviews repeat yearly, or when the vendor changes its sub-processors.
"""

POLICIES = [
    ("AI acceptable use", "How staff may use AI systems and generative AI tools.",
     [(AI_USE_V1, "First version"), (AI_USE_V2, "Label AI-generated content")], ["VC-01", "VC-14", "VC-40"]),
    ("Incident response", "Severity, roles and notification duties for security incidents.",
     [(INCIDENT_V1, "First version"), (INCIDENT_V2, "Add low severity")], ["VC-60", "VC-43", "VC-44"]),
    ("Access control", "Least privilege, MFA and access reviews.", [(ACCESS, "First version")],
     ["VC-52"]),
    ("Data classification and retention", "Four classes and how long each is kept.", [(DATA, "First version")],
     ["VC-54"]),
    ("Third-party and AI vendor management", "Security and privacy review of vendors, including AI providers.",
     [(VENDOR, "First version")], ["VC-49", "VC-50"]),
]


def seed_policies(tenant: Tenant) -> list[str]:
    """Add the demo policies and two pending approvals, unless the tenant has policies already."""
    with tenant_context(tenant):
        if db.session.scalar(sa.select(Policy.id).limit(1)):
            return []
        members = {m.user.email: m for m in db.session.scalars(
            sa.select(Membership).join(Membership.user).where(
                User.email.in_(("admin@acme.test", "compliance@acme.test", "analyst@acme.test"))))}
        cora, ada = member_actor(members["compliance@acme.test"]), member_actor(members["admin@acme.test"])
        now = utcnow()
        # The compliance demo adopts the default control set first; a key it did not create is skipped.
        controls = {c.key: c for c in db.session.scalars(sa.select(Control))}
        made = {title: services.import_policy(actor=cora, title=title, summary=summary, bodies=bodies,
                                              controls=[controls[k] for k in keys if k in controls],
                                              in_force_since=now - timedelta(days=40 + 37 * i))
                for i, (title, summary, bodies, keys) in enumerate(POLICIES)}
        for email in ("admin@acme.test", "analyst@acme.test"):
            if email in members:
                services.acknowledge(made["Access control"], actor=member_actor(members[email]))
        services.acknowledge(made["AI acceptable use"], actor=cora)
        ai_v3 = services.create_version(made["AI acceptable use"], actor=cora, body=AI_USE_V3,
                                        change_note="Special-category data; high-risk AI systems")
        services.request_review(ai_v3, actor=cora, approver_role="admin",
                                note="Adds the go-live rule for high-risk AI systems agreed at the AI board.")
        ir_v3 = services.create_version(made["Incident response"], actor=ada, body=INCIDENT_V3,
                                        change_note="AI incidents and Article 73 reporting")
        services.request_review(ir_v3, actor=ada, approver_role="compliance")
    return [f"Governance demo: {len(POLICIES)} policies, 2 new versions awaiting approval "
            "(admin@acme.test and compliance@acme.test each have one in their inbox)."]
