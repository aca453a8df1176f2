"""llm_routing: route LLM requests across 4 vLLM replicas (DESIGN.md §5)."""
