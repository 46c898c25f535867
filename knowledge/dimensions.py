"""The six profile dimensions, in a module that imports nothing (the CLI's help texts need them at start-up)."""

DIMENSIONS = ("background", "finance", "organisation", "competitors", "suppliers", "downstream")

DIMENSION_TITLES = {
    "background": "Background (industry, business strategy)",
    "finance": "Finance (sales volume, revenue, market share, budget)",
    "organisation": "Organisation (structure, power relations, decision makers)",
    "competitors": "Competitors (the account's rivals, threats, strengths)",
    "suppliers": "Suppliers (the account's other suppliers, share, satisfaction, supplier strategy)",
    "downstream": "Downstream (the account's customers and their needs)",
}
