"""Job Router emulator tests (driven through the real SDK) and Event Grid delivery tests."""
