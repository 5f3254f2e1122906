"""Cases: incident records with a state machine, forensic timeline, tasks, attachments and linked alerts."""
