"""What the engine's modules share below the math: argument checks (``checks``), NumPy idioms
that give the same numbers faster (``fastpaths``), names turned into objects (``registry``)
and what the machine has free (``system``). Nothing here imports the rest of nlayer."""
