"""Generate the example and demo data sets (deterministic: same files on every run).

Writes, next to this script:

* ``data/reviews.csv`` — ~800 short product / movie reviews, ``text,label``
  (``positive`` / ``negative``), from many templates with negations, contrasts, sarcasm,
  ratings, typos and a little label noise, so bag-of-words is good but not perfect.
* ``data/reviews_multitask.csv`` — ~400 reviews, ``text,sentiment,topic``
  (topic: ``movie`` / ``product`` / ``restaurant``) for a two-output spec.
* ``data/wine.csv`` — scikit-learn's bundled wine data: 13 numeric features + ``label``
  (``class_0`` / ``class_1`` / ``class_2``).
* ``data/shapes/{circle,square,triangle}/*.png`` — 40 noisy 64x64 RGB drawings per class.

and copies ``reviews.csv`` to ``resources/demo/reviews.csv`` (the demo project's data).

Run from anywhere::

    .venv/bin/python examples/make_data.py
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# ---------------------------------------------------------------------------- vocabulary
SUBJECTS = {
    "movie": ["this movie", "the film", "the sequel", "this documentary", "the new series",
              "this thriller", "the remake", "this comedy", "the animated film",
              "the director's latest", "this horror flick", "the season finale"],
    "product": ["this blender", "these headphones", "the charger", "this phone case",
                "the vacuum", "this keyboard", "the coffee maker", "the backpack", "this lamp",
                "the running shoes", "this kettle", "the smartwatch", "this desk chair",
                "the air fryer", "this power bank", "the webcam"],
    "restaurant": ["this place", "the new bistro", "this diner", "the pizzeria",
                   "the sushi bar", "this cafe", "the taco truck", "the steakhouse",
                   "this bakery", "the noodle shop", "the brunch spot"],
}
ASPECTS = {
    "movie": ["the acting", "the plot", "the pacing", "the dialogue", "the soundtrack",
              "the visuals", "the ending", "the jokes", "the characters", "the script",
              "the lead actress", "the camera work"],
    "product": ["the battery", "the build quality", "the price", "customer support",
                "the delivery", "the sound", "the screen", "the buttons", "the instructions",
                "the packaging", "the app", "the cable"],
    "restaurant": ["the food", "the service", "the pasta", "the staff", "the atmosphere",
                   "the portions", "the dessert", "the coffee", "the prices", "the wait",
                   "the menu", "the bread"],
}
POS_ADJ = {
    "_": ["great", "excellent", "fantastic", "wonderful", "amazing", "superb", "solid",
          "impressive", "lovely", "brilliant", "outstanding", "top notch", "really good",
          "pretty good", "decent", "terrific"],
    "movie": ["gripping", "hilarious", "moving", "clever", "beautifully made", "touching"],
    "product": ["sturdy", "reliable", "handy", "well built", "worth the money", "sleek"],
    "restaurant": ["delicious", "cozy", "tasty", "fresh", "friendly", "generous"],
}
NEG_ADJ = {
    "_": ["terrible", "awful", "disappointing", "mediocre", "poor", "dreadful", "bad",
          "horrible", "underwhelming", "a letdown", "pretty bad", "subpar", "lousy"],
    "movie": ["boring", "predictable", "dull", "forgettable", "painfully slow", "cringey"],
    "product": ["flimsy", "useless", "cheap", "overpriced", "fragile", "unreliable"],
    "restaurant": ["bland", "greasy", "overpriced", "stale", "cramped", "rude"],
}
POS_PRED = {
    "movie": ["kept me hooked", "made me laugh out loud", "was beautifully shot",
              "stayed with me for days", "had me on the edge of my seat",
              "brought tears to my eyes", "flew by", "surprised me in the best way"],
    "product": ["works exactly as described", "feels really solid", "arrived early",
                "has lasted for months", "was easy to set up", "does the job perfectly",
                "still works like new", "charges fast"],
    "restaurant": ["was cooked perfectly", "came out fast", "made us feel welcome",
                   "was worth every penny", "tasted homemade", "was packed with flavour",
                   "had us coming back the next week", "exceeded our expectations"],
}
NEG_PRED = {
    "movie": ["dragged on forever", "made no sense", "put me to sleep",
              "felt lazy and predictable", "was a total mess", "wasted a great cast",
              "fell apart in the last act", "had me checking my phone"],
    "product": ["stopped working after a week", "broke on the first day", "arrived scratched",
                "feels cheap", "overheats constantly", "keeps disconnecting",
                "died after two uses", "smells like burnt plastic"],
    "restaurant": ["was cold when it arrived", "took forever", "was bland and greasy",
                   "ignored us all night", "gave me a stomach ache", "was way too salty",
                   "got our order wrong twice", "was sticky and dirty"],
}
POS_VERB = ["loved", "really enjoyed", "adore", "was impressed by", "am delighted with",
            "can't stop recommending", "was pleasantly surprised by", "fell in love with"]
NEG_VERB = ["hated", "regret", "was let down by", "am fed up with", "can't stand",
            "was annoyed by", "deeply regret", "gave up on"]
ADVERBS = ["", "", "really ", "very ", "truly ", "absolutely ", "quite ", "so ", "honestly ",
           "surprisingly "]
OPENERS = {
    "movie": ["Watched it with my family on Friday.", "Saw it at the cinema last night.",
              "Finally got around to watching it.", "My friend dragged me to see it.",
              "Streamed it on a rainy Sunday."],
    "product": ["Bought this last week.", "Got it as a birthday present.",
                "Ordered it after reading the reviews.", "Arrived on Tuesday.",
                "I have been using it for a month now."],
    "restaurant": ["Went there for dinner on Saturday.", "We stopped by for lunch.",
                   "Came here for my mom's birthday.", "Ordered takeout from them last night.",
                   "Tried it after a friend's tip."],
}
POS_CLOSERS = {
    "_": ["Highly recommended.", "Would do it again.", "Two thumbs up!", "Loved it.",
          "Five stars from me.", "No regrets at all.", "Worth it."],
    "movie": ["Go see it.", "Best thing I've watched this year.", "Will rewatch for sure."],
    "product": ["Would buy again.", "Great value.", "Already ordered a second one."],
    "restaurant": ["We'll be back.", "Book a table now.", "Best meal in town."],
}
NEG_CLOSERS = {
    "_": ["Avoid.", "Not recommended.", "Never again.", "Huge disappointment.",
          "One star.", "What a waste.", "So disappointed."],
    "movie": ["Skip it.", "I want my two hours back.", "Wait for it to be free, or don't."],
    "product": ["Save your money.", "Returned it.", "Asked for a refund."],
    "restaurant": ["We won't be back.", "Eat somewhere else.", "Total rip-off."],
}
NEG_EVENT = {
    "movie": ["ended on a cliffhanger nobody asked for", "put half the audience to sleep",
              "spent an hour on a subplot that went nowhere"],
    "product": ["broke after two days", "died the moment I unboxed it",
                "stopped charging in a week"],
    "restaurant": ["lost our reservation", "served my soup cold",
                   "charged us twice for the wine"],
}
ASPECT_POS = ["{be} spot on", "exceeded my expectations", "{be} the best part", "impressed me",
              "{be} excellent", "could not have been better", "{be} a real highlight",
              "{be} just right", "won me over"]
ASPECT_NEG = ["{be} a joke", "let me down", "could have been so much better",
              "{be} the worst part", "{be} a real problem", "ruined it for me", "{be} just sad",
              "{be} an afterthought", "annoyed me constantly"]
WHOM = ["anyone", "my friends", "my worst enemy", "families", "beginners", "everyone I know",
        "fans of the genre", "people on a budget"]


def pick(rng: random.Random, table: dict[str, list[str]], topic: str) -> str:
    """Choose from the topic's words and the shared ones (``"_"``)."""
    return rng.choice(table.get("_", []) + table.get(topic, []))


def cap(text: str) -> str:
    """Upper-case the first letter."""
    return text[:1].upper() + text[1:]


def be(noun: str, past: bool = True) -> str:
    """``was`` / ``were`` (or ``is`` / ``are``) agreeing with ``noun``."""
    last = noun.split()[-1]
    plural = noun.startswith("these ") or (last.endswith("s") and not last.endswith("ss")
                                           and last != "series")
    if past:
        return "were" if plural else "was"
    return "are" if plural else "is"


def clause(rng: random.Random, topic: str, positive: bool, aspect: str) -> str:
    """Make a clause: ``"it <did something>"`` or ``"<aspect> <verdict>"``."""
    if rng.random() < 0.5:
        return "it " + rng.choice((POS_PRED if positive else NEG_PRED)[topic])
    verdict = rng.choice(ASPECT_POS if positive else ASPECT_NEG)
    return f"{aspect} {verdict.format(be=be(aspect))}"


def _pos_or_neg(rng: random.Random, topic: str, positive: bool) -> tuple[str, str, str, str]:
    adj = pick(rng, POS_ADJ if positive else NEG_ADJ, topic)
    pred = rng.choice((POS_PRED if positive else NEG_PRED)[topic])
    verb = rng.choice(POS_VERB if positive else NEG_VERB)
    closer = pick(rng, POS_CLOSERS if positive else NEG_CLOSERS, topic)
    return adj, pred, verb, closer


def review(rng: random.Random, topic: str, positive: bool) -> str:
    """One review of ``topic`` whose overall sentiment is ``positive``."""
    subj = rng.choice(SUBJECTS[topic])
    asp, asp2 = rng.sample(ASPECTS[topic], 2)
    adj, pred, verb, closer = _pos_or_neg(rng, topic, positive)
    o_adj, _, _, _ = _pos_or_neg(rng, topic, not positive)
    cl = clause(rng, topic, positive, asp)
    o_cl = clause(rng, topic, not positive, asp2)
    adv = rng.choice(ADVERBS)
    kind = rng.randrange(16)
    if kind == 0:
        text = f"{cap(subj)} {be(subj, False)} {adv}{adj}."
    elif kind == 1:
        text = f"I {verb} {subj}. {cap(cl)}."
    elif kind == 2:
        text = f"{rng.choice(OPENERS[topic])} {cap(subj)} {be(subj)} {adv}{adj}. {closer}"
    elif kind == 3:  # negation carries the sentiment
        if positive:
            text = rng.choice([f"{cap(subj)} {be(subj, False)} not {o_adj} at all, actually "
                               f"quite {adj}.",
                               f"Not {o_adj} like people said. {cap(cl)}.",
                               f"Can't complain about {subj}.",
                               f"No complaints, {cl}.",
                               f"Honestly not bad. {cap(cl)}."])
        else:
            text = rng.choice([f"{cap(subj)} {be(subj, False)} not {o_adj} at all.",
                               f"Not {o_adj}, not even close. {cap(cl)}.",
                               f"I would not call {subj} {o_adj}.",
                               f"Nothing {o_adj} about it. {cap(cl)}.",
                               f"Wasn't {o_adj}, wasn't worth it."])
    elif kind == 4:  # contrast: the last clause wins
        text = rng.choice([f"I expected {subj} to be {o_adj}, but it was {adj}.",
                           f"{cap(o_cl)}, but {cl}, so overall {adj}.",
                           f"At first {subj} seemed {o_adj}. Then {cl}.",
                           f"Although {o_cl}, {subj} {be(subj, False)} {adj}."])
    elif kind == 5:
        text = f"I would{'' if positive else ' not'} recommend {subj} to {rng.choice(WHOM)}."
        if rng.random() < 0.5:
            text += f" {cap(cl)}."
    elif kind == 6:  # rating
        if topic == "movie":
            score = rng.randint(7, 10) if positive else rng.randint(1, 4)
            rating = f"{score}/10"
        else:
            score = rng.randint(4, 5) if positive else rng.randint(1, 2)
            rating = f"{score} star{'s' if score > 1 else ''}"
        text = f"{cap(cl)}. {rating}."
    elif kind == 7:
        adj2 = pick(rng, POS_ADJ if positive else NEG_ADJ, topic)
        text = (f"{cap(asp)} {be(asp, False)} {adv}{adj} and {asp2} {be(asp2, False)} "
                f"{adj2}.")
    elif kind == 8:  # mixed aspects with an overall verdict
        text = (f"{cap(o_cl)} and {cl}. Overall, "
                f"{'a' if positive else 'not a'} good experience.")
    elif kind == 9:  # sarcasm (negative) / grudging praise (positive)
        if positive:
            text = rng.choice([f"I hate to admit it, but {subj} {be(subj, False)} {adj}.",
                               f"Didn't think I'd like {subj}, but {cl}.",
                               f"My expectations were low. {cap(subj)} proved me wrong."])
        else:
            text = rng.choice([f"Oh great, {subj} {rng.choice(NEG_EVENT[topic])}. "
                               f"Just what I needed.",
                               f"Wow, amazing job: {subj} {rng.choice(NEG_EVENT[topic])}.",
                               "Perfect, if you enjoy being disappointed."])
    elif kind == 10:  # comparison
        if positive:
            text = rng.choice([f"Much better than the last one I tried. {cap(cl)}.",
                               f"Way better than I expected, {cl}.",
                               "Beats everything else I've tried."])
        else:
            text = rng.choice([f"Worse than the cheap one I had before. {cap(cl)}.",
                               f"Even the old version was better; {cl}.",
                               "I've seen better for half the price."])
    elif kind == 11:  # question
        if positive:
            text = rng.choice([f"What more could you want? {cap(cl)}.",
                               f"Why didn't I find {subj} sooner? {closer}"])
        else:
            text = rng.choice([f"Who thought this was a good idea? {cap(cl)}.",
                               f"How {be(subj, False)} {subj} this {adj}? {closer}"])
    elif kind == 12:  # quotes inside the text
        word = "premium" if topic == "product" else ("masterpiece" if topic == "movie"
                                                     else "authentic")
        text = (f'The "{word}" label is deserved: {cl}.' if positive
                else f'The "{word}" label is a joke: {cl}.')
    elif kind == 13:
        text = f"{cap(subj)}: {cl}, and {clause(rng, topic, positive, asp2)}."
    elif kind == 14:
        text = f"{closer} {cap(cl)}."
    else:
        text = f"{cap(subj)}? {cap(adv + adj).strip()}. {cap(cl)}."
    return noisy(rng, text, positive, topic)


def noisy(rng: random.Random, text: str, positive: bool, topic: str) -> str:
    """Add the mess real reviews have: fillers, casing, typos, emoticons, missing dots."""
    if rng.random() < 0.12:
        text = f"{rng.choice(OPENERS[topic])} {text}"
    if rng.random() < 0.1:
        text = f"{text} {pick(rng, POS_CLOSERS if positive else NEG_CLOSERS, topic)}"
    if rng.random() < 0.05:
        text += " :)" if positive else " :("
    if rng.random() < 0.08:
        words = text.split(" ")
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 4:
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
        text = " ".join(words)
    if rng.random() < 0.08:
        text = text.lower()
    if rng.random() < 0.06:
        text = text.rstrip(".")
    if rng.random() < 0.04:
        text = text.rstrip(".!") + "!!"
    return text


def make_reviews(n: int, seed: int, topics: list[str],
                 flip: float = 0.015) -> list[tuple[str, str, str]]:
    """``n`` distinct (text, sentiment, topic) rows, sentiments alternating, then shuffled."""
    rng = random.Random(seed)
    rows: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    while len(rows) < n:
        positive = len(rows) % 2 == 0
        topic = topics[(len(rows) // 2) % len(topics)]
        text = review(rng, topic, positive)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        if rng.random() < flip:  # a little label noise, as in any hand-labelled set
            positive = not positive
        rows.append((text, "positive" if positive else "negative", topic))
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> None:
    """Write a UTF-8 CSV with Unix line ends and minimal quoting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def make_wine(path: Path) -> None:
    """Write scikit-learn's bundled wine data set (no download) as a numeric CSV."""
    from sklearn.datasets import load_wine

    wine = load_wine()
    header = [*wine.feature_names, "label"]
    rows = [(*(repr(float(v)) for v in x), f"class_{t}")
            for x, t in zip(wine.data, wine.target, strict=True)]
    write_csv(path, header, rows)


def make_shapes(root: Path, per_class: int = 40, size: int = 64, seed: int = 7) -> None:
    """Draw ``per_class`` noisy circles, squares and triangles per class folder."""
    from PIL import Image, ImageDraw

    if root.exists():
        shutil.rmtree(root)
    rng = np.random.default_rng(seed)
    big = size * 2
    for shape in ("circle", "square", "triangle"):
        folder = root / shape
        folder.mkdir(parents=True)
        for i in range(per_class):
            bg = rng.integers(150, 256, size=3)
            yy = np.linspace(0, 1, size)[:, None, None]
            base = bg[None, None, :] * (0.85 + 0.15 * yy)
            noise = rng.normal(0, 6, size=(size // 4, size // 4, 3)).repeat(4, 0).repeat(4, 1)
            pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
            img = Image.fromarray(pixels).resize((big, big), Image.Resampling.NEAREST)
            draw = ImageDraw.Draw(img)
            fill = tuple(int(v) for v in rng.integers(0, 120, size=3))
            r = int(rng.integers(big // 8, big // 3))
            cx, cy = (int(v) for v in rng.integers(r + 2, big - r - 2, size=2))
            if shape == "circle":
                draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
            else:
                sides = 4 if shape == "square" else 3
                draw.regular_polygon((cx, cy, r), sides, rotation=float(rng.uniform(0, 360)),
                                     fill=fill)
            img = img.resize((size, size), Image.Resampling.LANCZOS)
            img.save(folder / f"{shape}_{i:03d}.png", optimize=True)


def main(argv: list[str] | None = None) -> None:
    """Write every example file (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data", help="output folder")
    parser.add_argument("--demo", type=Path, default=REPO / "resources" / "demo",
                        help="folder for the demo project's copy of reviews.csv")
    args = parser.parse_args(argv)
    out: Path = args.out
    rows = make_reviews(800, seed=1234, topics=["movie", "product"])
    write_csv(out / "reviews.csv", ["text", "label"], [(t, s) for t, s, _ in rows])
    rows = make_reviews(402, seed=99, topics=["movie", "product", "restaurant"])
    write_csv(out / "reviews_multitask.csv", ["text", "sentiment", "topic"], rows)
    make_wine(out / "wine.csv")
    make_shapes(out / "shapes")
    args.demo.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / "reviews.csv", args.demo / "reviews.csv")
    print(f"wrote example data to {out} and {args.demo / 'reviews.csv'}")


if __name__ == "__main__":
    main()
