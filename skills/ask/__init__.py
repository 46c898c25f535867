"""Ask: short, correct, cited answers to reps' questions (offline by default, an LLM agent when configured)."""
