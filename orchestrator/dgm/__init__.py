"""Darwin-Gödel self-improvement runs: parent selection, diagnosis, the LangGraph graph."""
