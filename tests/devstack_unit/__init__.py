"""Unit-level specs of the dev stack's own parts (the demo's scenario file, host-log parsing, summary, agent
app, webhook, command-line checks, the polling helper): nothing here starts the emulator or the Functions
host."""
