"""TF-IDF similarity on a small fixed catalog: neighbours share the category or terms, never themselves."""

from __future__ import annotations

import re

import pytest

from agora.services.recommendations.similarity import ProductText, SimilarityModel, category_token, document

CATALOG = [
    ProductText("trail", "Trail Running Shoe", "Grippy sole for muddy trails.", ["running", "trail"], "footwear"),
    ProductText("road", "Road Running Shoe", "Light cushioned shoe for asphalt.", ["running", "road"], "footwear"),
    ProductText("boot", "Leather Hiking Boot", "Waterproof leather boot.", ["hiking"], "footwear"),
    ProductText("espresso", "Espresso Coffee Beans", "Dark roast whole beans.", ["coffee", "espresso"], "grocery"),
    ProductText("decaf", "Decaf Coffee Beans", "Swiss water decaf, medium roast beans.", ["coffee"], "grocery"),
    ProductText("mug", "Ceramic Coffee Mug", "Holds 350 ml of coffee.", ["coffee", "mug"], "kitchen-ware"),
    ProductText("lamp", "Desk Lamp", "Warm LED glow.", ["lighting"], "home"),
]
BY_ID = {product.id: product for product in CATALOG}


def _terms(product: ProductText) -> set[str]:
    return set(re.findall(r"\w\w+", document(product).lower()))


@pytest.fixture(scope="module")
def model() -> SimilarityModel:
    return SimilarityModel.build(CATALOG, top_k=10)


def test_the_nearest_neighbour_is_the_obvious_one(model: SimilarityModel) -> None:
    assert model.similar("trail")[0][0] == "road"
    assert model.similar("road")[0][0] == "trail"
    assert model.similar("espresso")[0][0] == "decaf"
    assert model.similar("decaf")[0][0] == "espresso"


def test_neighbours_share_the_category_or_terms_and_never_are_the_product(model: SimilarityModel) -> None:
    for product in CATALOG:
        neighbours = model.similar(product.id)
        assert product.id not in {other for other, _ in neighbours}
        for other, score in neighbours:
            assert 0 < score <= 1.0 + 1e-9
            shared_category = BY_ID[other].category == product.category
            assert shared_category or _terms(BY_ID[other]) & _terms(product), (product.id, other)
        scores = [score for _, score in neighbours]
        assert scores == sorted(scores, reverse=True)


def test_unrelated_products_are_not_neighbours(model: SimilarityModel) -> None:
    assert "lamp" not in {other for other, _ in model.similar("trail")}
    assert model.similar("lamp") == ()  # nothing shares a term or the category with it
    # the mug shares "coffee" with the beans, not its category
    assert {"espresso", "decaf"} <= {other for other, _ in model.similar("mug")}


def test_the_category_alone_makes_products_similar() -> None:
    products = [
        ProductText("a", "Alpha", "", [], "garden"),
        ProductText("b", "Beta", "", [], "garden"),
        ProductText("c", "Gamma", "", [], "office"),
    ]
    model = SimilarityModel.build(products)
    assert [other for other, _ in model.similar("a")] == ["b"]
    assert model.similar("c") == ()


def test_top_k_bounds_the_neighbours(model: SimilarityModel) -> None:
    small = SimilarityModel.build(CATALOG, top_k=1)
    assert all(len(small.similar(p.id)) <= 1 for p in CATALOG)
    assert small.similar("trail") == model.similar("trail")[:1]


def test_degenerate_catalogs() -> None:
    assert SimilarityModel.build([]).similar("x") == ()
    assert SimilarityModel.build(CATALOG[:1]).similar("trail") == ()
    stop_words_only = [ProductText("a", "the", "", [], ""), ProductText("b", "and", "", [], "")]
    # the category token survives even an otherwise empty text; two empty categories are one token
    assert [other for other, _ in SimilarityModel.build(stop_words_only).similar("a")] == ["b"]
    assert category_token("Home & Garden") == "category_home___garden"
