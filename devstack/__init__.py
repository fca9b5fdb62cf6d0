"""The local dev stack: a Job Router emulator and a Functions host stand-in. Never deployed."""
