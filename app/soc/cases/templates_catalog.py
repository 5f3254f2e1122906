"""Case templates as data: a title prefix, a default severity, tags and the tasks to pre-fill."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaseTemplate:
    key: str
    name: str
    title_prefix: str
    severity: str
    tags: tuple[str, ...]
    tasks: tuple[str, ...]
    techniques: tuple[str, ...] = ()


TEMPLATES: dict[str, CaseTemplate] = {t.key: t for t in (
    CaseTemplate(
        key="phishing",
        name="Phishing",
        title_prefix="Phishing: ",
        severity="medium",
        tags=("phishing", "email"),
        techniques=("T1566",),
        tasks=(
            "Collect the original message with full headers (.eml)",
            "Extract and check URLs, attachments and sender infrastructure",
            "Search mailboxes for other recipients of the same campaign and purge copies",
            "Identify users who clicked or replied; review their sign-ins",
            "Reset credentials and revoke sessions of affected accounts",
            "Block sender, domains and URLs at the mail gateway and proxy",
            "Notify affected users and record lessons learned",
        ),
    ),
    CaseTemplate(
        key="ransomware",
        name="Ransomware",
        title_prefix="Ransomware: ",
        severity="critical",
        tags=("ransomware", "malware"),
        techniques=("T1486", "T1490"),
        tasks=(
            "Isolate affected hosts from the network (keep them powered on)",
            "Identify the ransomware family and the ransom note",
            "Capture memory and disk images of patient zero",
            "Determine initial access and the extent of lateral movement",
            "Disable compromised accounts and rotate privileged credentials",
            "Check for data exfiltration before encryption",
            "Verify backups are intact and restore from a clean point",
            "Decide on regulatory and law-enforcement notification",
        ),
    ),
    CaseTemplate(
        key="ai_model_abuse",
        name="AI model abuse",
        title_prefix="AI abuse: ",
        severity="high",
        tags=("ai", "prompt-injection", "data-exfiltration"),
        techniques=("T1190",),
        tasks=(
            "Preserve the prompts, completions and tool calls of the affected sessions",
            "Identify the injection vector (user input, retrieved document, tool output)",
            "Determine which data, tools or credentials the model could reach",
            "Check outputs for leaked sensitive data and where they were sent",
            "Disable the abused tool or connector, or put the model behind a stricter policy",
            "Add the injection pattern to input filters and red-team test cases",
            "Assess reporting duties (EU AI Act serious incident, data protection)",
        ),
    ),
)}


def get_template(key: str | None) -> CaseTemplate | None:
    from app.core.errors import ValidationFailed

    if not key:
        return None
    template = TEMPLATES.get(key.strip().lower().replace(" ", "_").replace("-", "_"))
    if template is None:
        raise ValidationFailed({"template": [f"Unknown template {key[:40]!r}; use one of {', '.join(TEMPLATES)}."]})
    return template
