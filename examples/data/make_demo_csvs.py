"""Write the demo CSV files beside this script. Seeded: rerunning gives the same files.

    python examples/data/make_demo_csvs.py

houses.csv     regression: predict ``price`` from size, rooms, age, city, garden.
customers.csv  classification: predict ``churned`` (yes/no); ``notes`` is free text that the
               loader leaves out of the features.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROWS = 200


def make_houses(rng: np.random.Generator) -> pd.DataFrame:
    cities = np.array(["Lyon", "Paris", "Nantes", "Lille"])
    premium = {"Lyon": 1.2, "Paris": 2.0, "Nantes": 1.0, "Lille": 0.9}
    city = rng.choice(cities, ROWS, p=[0.3, 0.3, 0.2, 0.2])
    area = rng.normal(85, 30, ROWS).clip(20, 250).round(1)
    rooms = np.clip(np.round(area / 25 + rng.normal(0, 0.7, ROWS)), 1, 9).astype(int)
    age = rng.integers(0, 80, ROWS)
    garden = rng.random(ROWS) < 0.4
    price = (np.array([premium[c] for c in city]) * (area * 2.6 + rooms * 9 + garden * 25)
             - age * 0.4 + rng.normal(0, 15, ROWS))
    frame = pd.DataFrame({"area_m2": area, "rooms": rooms, "age_years": age, "city": city,
                          "garden": garden, "price": price.round(1)})
    # A few gaps, as real exports have: the loader imputes them.
    for column, count in (("area_m2", 6), ("age_years", 5), ("city", 4)):
        frame.loc[rng.choice(ROWS, count, replace=False), column] = None
    frame["age_years"] = frame["age_years"].astype("Int64")  # whole years, even beside gaps
    return frame


def make_customers(rng: np.random.Generator) -> pd.DataFrame:
    plans = np.array(["basic", "standard", "premium"])
    plan = rng.choice(plans, ROWS, p=[0.5, 0.3, 0.2])
    tenure = rng.integers(1, 72, ROWS)
    monthly = (np.select([plan == "basic", plan == "standard"], [15.0, 30.0], 55.0)
               + rng.normal(0, 4, ROWS)).round(2)
    tickets = rng.poisson(1.5, ROWS)
    score = -0.04 * tenure + 0.5 * tickets + 0.02 * monthly + (plan == "basic") * 0.6 - 0.8
    churned = np.where(rng.random(ROWS) < 1 / (1 + np.exp(-score)), "yes", "no")
    topics = ["asked about pricing", "reported a billing error", "praised support",
              "wants a discount", "moved house", "slow connection", "upgraded last year"]
    notes = [f"Customer {i + 1}: {rng.choice(topics)} (call {rng.integers(1, 900)})"
             for i in range(ROWS)]
    frame = pd.DataFrame({"tenure_months": tenure, "plan": plan, "monthly_fee": monthly,
                          "support_tickets": tickets, "notes": notes, "churned": churned})
    frame.loc[rng.choice(ROWS, 5, replace=False), "monthly_fee"] = None
    frame.loc[rng.choice(ROWS, 3, replace=False), "plan"] = None
    return frame


def main() -> None:
    rng = np.random.default_rng(20240601)
    make_houses(rng).to_csv(HERE / "houses.csv", index=False)
    make_customers(rng).to_csv(HERE / "customers.csv", index=False)


if __name__ == "__main__":
    main()
