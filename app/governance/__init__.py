"""AI governance: AI system inventory, risk register, and versioned policies."""
