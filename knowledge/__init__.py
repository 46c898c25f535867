"""Account knowledge: profile format, relational store, vector + lexical index, importers and retrieval."""
