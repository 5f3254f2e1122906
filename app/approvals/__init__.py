"""The generic approval engine: requests about any registered subject, ordered steps, the inbox, notifications."""
