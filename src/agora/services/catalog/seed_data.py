"""Hand-written building blocks for the demo catalog.

Each category lists a few brands, adjectives, colours and product kinds (a kind carries its
price band in dollars, its tags, materials and selling points). :mod:`.seed` combines them by
position, never at random, so every run and every machine produces the same 240 products.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    noun: str
    code: str
    price: tuple[int, int]
    """Price band in whole currency units; seeded prices end in .99 (or .00 for round items)."""
    tags: tuple[str, ...]
    materials: tuple[str, ...]
    features: tuple[str, ...]


@dataclass(frozen=True)
class CategoryBlock:
    slug: str
    name: str
    description: str
    code: str
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    colours: tuple[str, ...]
    kinds: tuple[Kind, ...]


CATEGORIES: tuple[CategoryBlock, ...] = (
    CategoryBlock(
        slug="footwear",
        name="Footwear",
        description="Shoes and boots for city streets, trails and the track.",
        code="FTW",
        brands=("Northwind", "Stridewell", "Copperfield", "Halden"),
        adjectives=("Trailblazer", "Metro", "Summit", "Featherlight", "Harbor", "Everyday"),
        colours=("Slate", "Sand", "Black", "Olive", "Navy", "Chestnut"),
        kinds=(
            Kind(
                "Running Shoe",
                "RUN",
                (79, 159),
                ("running", "shoes", "breathable"),
                ("engineered mesh", "recycled knit"),
                ("a responsive foam midsole", "a reflective heel tab", "a grippy rubber outsole"),
            ),
            Kind(
                "Hiking Boot",
                "HIK",
                (119, 239),
                ("hiking", "boots", "waterproof"),
                ("full-grain leather", "nubuck suede"),
                ("a waterproof membrane", "a lugged Vibram-style sole", "a padded ankle collar"),
            ),
            Kind(
                "Leather Sneaker",
                "SNK",
                (89, 179),
                ("sneakers", "casual", "leather"),
                ("Italian calfskin", "vegetable-tanned leather"),
                ("a stitched cupsole", "a cushioned cork footbed", "waxed cotton laces"),
            ),
            Kind(
                "Slip-On Loafer",
                "LOF",
                (69, 149),
                ("loafers", "casual", "slip-on"),
                ("suede", "woven canvas"),
                ("a flexible moccasin construction", "a leather-lined collar", "a non-marking sole"),
            ),
        ),
    ),
    CategoryBlock(
        slug="apparel",
        name="Apparel",
        description="Everyday clothing made to last: shirts, knits, jackets and trousers.",
        code="APP",
        brands=("Linden & Co", "Fieldnote", "Bramble", "Aster Row"),
        adjectives=("Classic", "Relaxed", "Heritage", "Coastal", "Tailored", "Weekend"),
        colours=("Indigo", "Heather Grey", "Forest", "Oatmeal", "Charcoal", "Rust"),
        kinds=(
            Kind(
                "Oxford Shirt",
                "SHR",
                (39, 89),
                ("shirts", "cotton", "workwear"),
                ("organic cotton oxford", "brushed cotton"),
                ("a button-down collar", "a box-pleated back", "mother-of-pearl buttons"),
            ),
            Kind(
                "Merino Sweater",
                "SWT",
                (69, 149),
                ("knitwear", "wool", "winter"),
                ("extra-fine merino wool", "merino-cashmere blend"),
                ("ribbed cuffs and hem", "a crew neckline", "temperature-regulating fibres"),
            ),
            Kind(
                "Rain Jacket",
                "JKT",
                (99, 229),
                ("jackets", "waterproof", "outdoor"),
                ("recycled nylon ripstop", "three-layer shell fabric"),
                ("taped seams", "an adjustable hood", "pit zips for ventilation"),
            ),
            Kind(
                "Chino Trouser",
                "CHN",
                (49, 109),
                ("trousers", "cotton", "casual"),
                ("stretch cotton twill", "garment-dyed canvas"),
                ("a tapered leg", "a hidden coin pocket", "a gusseted crotch"),
            ),
        ),
    ),
    CategoryBlock(
        slug="kitchen",
        name="Kitchen & Dining",
        description="Cookware, knives and tableware for people who cook every day.",
        code="KIT",
        brands=("Hearthstone", "Copperpot", "Saltmarsh", "Kiln & Co"),
        adjectives=("Professional", "Heritage", "Everyday", "Chef's", "Artisan", "Compact"),
        colours=("Matte Black", "Cream", "Sage", "Cobalt", "Terracotta", "Steel"),
        kinds=(
            Kind(
                "Cast Iron Skillet",
                "SKL",
                (29, 119),
                ("cookware", "cast-iron", "oven-safe"),
                ("pre-seasoned cast iron", "enamelled cast iron"),
                ("even heat retention", "a helper handle", "pour spouts on both sides"),
            ),
            Kind(
                "Chef Knife",
                "KNF",
                (49, 189),
                ("knives", "cutlery", "stainless-steel"),
                ("high-carbon stainless steel", "Damascus-clad steel"),
                ("a full tang", "a hand-honed 15-degree edge", "a pakkawood handle"),
            ),
            Kind(
                "Pour-Over Coffee Set",
                "COF",
                (35, 95),
                ("coffee", "brewing", "glass"),
                ("borosilicate glass", "hand-glazed ceramic"),
                ("a reusable steel filter", "a gooseneck kettle", "a measured carafe"),
            ),
            Kind(
                "Stoneware Dinner Set",
                "DIN",
                (59, 199),
                ("tableware", "ceramic", "dishwasher-safe"),
                ("reactive-glaze stoneware", "speckled porcelain"),
                ("four place settings", "chip-resistant rims", "microwave-safe glaze"),
            ),
        ),
    ),
    CategoryBlock(
        slug="electronics",
        name="Electronics",
        description="Headphones, speakers, chargers and the small gadgets that make a desk work.",
        code="ELC",
        brands=("Voltaic", "Sonora", "Pixelight", "Arcwave"),
        adjectives=("Pro", "Studio", "Mini", "Max", "Air", "Core"),
        colours=("Graphite", "Silver", "White", "Midnight", "Sky Blue", "Sand"),
        kinds=(
            Kind(
                "Wireless Headphones",
                "HDP",
                (79, 349),
                ("audio", "headphones", "bluetooth"),
                ("memory-foam ear cushions", "aluminium and protein leather"),
                ("active noise cancellation", "30 hours of battery life", "multipoint Bluetooth 5.3"),
            ),
            Kind(
                "Portable Speaker",
                "SPK",
                (49, 199),
                ("audio", "speakers", "waterproof"),
                ("a rubberised shell", "recycled fabric mesh"),
                ("IP67 water resistance", "stereo pairing", "a built-in microphone"),
            ),
            Kind(
                "USB-C Charger",
                "CHG",
                (19, 79),
                ("charging", "usb-c", "travel"),
                ("gallium nitride circuitry", "a fire-resistant casing"),
                ("65 W fast charging", "foldable prongs", "three ports"),
            ),
            Kind(
                "Mechanical Keyboard",
                "KBD",
                (69, 219),
                ("keyboards", "office", "gaming"),
                ("a CNC-machined aluminium case", "PBT keycaps"),
                ("hot-swappable switches", "per-key RGB lighting", "a detachable USB-C cable"),
            ),
        ),
    ),
    CategoryBlock(
        slug="home",
        name="Home & Living",
        description="Lighting, textiles and furniture for calm, well-made rooms.",
        code="HOM",
        brands=("Willowmere", "Oak & Ash", "Nordhem", "Lumen House"),
        adjectives=("Nordic", "Minimal", "Cosy", "Mid-Century", "Rustic", "Serene"),
        colours=("Natural", "Ivory", "Moss", "Clay", "Ink", "Fog"),
        kinds=(
            Kind(
                "Table Lamp",
                "LMP",
                (39, 189),
                ("lighting", "lamps", "decor"),
                ("hand-blown opal glass", "turned walnut"),
                ("a dimmable warm LED", "a linen shade", "a braided fabric cord"),
            ),
            Kind(
                "Throw Blanket",
                "THR",
                (45, 129),
                ("textiles", "blankets", "cosy"),
                ("lambswool", "stonewashed linen"),
                ("fringed edges", "a herringbone weave", "an oversized 130 x 180 cm cut"),
            ),
            Kind(
                "Scented Candle",
                "CND",
                (19, 59),
                ("candles", "fragrance", "decor"),
                ("natural soy wax", "coconut-apricot wax"),
                ("a cotton wick", "a 50-hour burn time", "a reusable glass vessel"),
            ),
            Kind(
                "Oak Side Table",
                "TBL",
                (129, 399),
                ("furniture", "wood", "living-room"),
                ("solid white oak", "smoked ash"),
                ("a hand-oiled finish", "a lower shelf", "tool-free assembly"),
            ),
        ),
    ),
    CategoryBlock(
        slug="outdoor",
        name="Outdoor & Camping",
        description="Tents, packs and gear for weekends away from the grid.",
        code="OUT",
        brands=("Ridgeback", "Cairn", "Timberline", "Wildfell"),
        adjectives=("Alpine", "Ultralight", "Basecamp", "Expedition", "Trail", "Backcountry"),
        colours=("Orange", "Moss Green", "Stone", "Glacier Blue", "Black", "Desert"),
        kinds=(
            Kind(
                "Two-Person Tent",
                "TNT",
                (149, 449),
                ("camping", "tents", "waterproof"),
                ("silicone-coated ripstop nylon", "polyester taffeta"),
                ("colour-coded aluminium poles", "two vestibules", "a 3,000 mm hydrostatic head"),
            ),
            Kind(
                "Daypack",
                "DPK",
                (59, 169),
                ("hiking", "backpacks", "travel"),
                ("recycled Cordura", "waxed canvas"),
                ("a hydration sleeve", "a ventilated back panel", "hip-belt pockets"),
            ),
            Kind(
                "Sleeping Bag",
                "SLB",
                (89, 329),
                ("camping", "sleeping", "insulated"),
                ("responsibly sourced down", "synthetic microfibre fill"),
                ("a comfort rating of -5 C", "a draft collar", "a compression sack"),
            ),
            Kind(
                "Headlamp",
                "HLM",
                (25, 79),
                ("lighting", "camping", "rechargeable"),
                ("an anodised aluminium body", "impact-resistant polycarbonate"),
                ("a 400-lumen beam", "a red night-vision mode", "USB-C recharging"),
            ),
        ),
    ),
    CategoryBlock(
        slug="books",
        name="Books",
        description="Cookbooks, field guides, novels and handsome notebooks for reading slowly.",
        code="BKS",
        brands=("Pelham Press", "Quillstone Books", "Harrow House", "Marginalia"),
        adjectives=("Illustrated", "Collected", "Essential", "Pocket", "Annotated", "Complete"),
        colours=("Clothbound", "Paperback", "Hardcover", "Special Edition", "Large Print", "Boxed"),
        kinds=(
            Kind(
                "Cookbook",
                "CKB",
                (24, 49),
                ("books", "cooking", "recipes"),
                ("sewn binding", "matte art paper"),
                ("over 120 tested recipes", "full-colour photography", "a ribbon bookmark"),
            ),
            Kind(
                "Field Guide to Birds",
                "BRD",
                (19, 39),
                ("books", "nature", "birdwatching"),
                ("water-resistant covers", "lay-flat binding"),
                ("hand-painted plates", "range maps for every species", "a quick-find index"),
            ),
            Kind(
                "Mystery Novel",
                "NOV",
                (12, 29),
                ("books", "fiction", "mystery"),
                ("acid-free paper", "a deckled edge"),
                ("a locked-room puzzle", "an unforgettable detective", "a twist you will not see coming"),
            ),
            Kind(
                "Travel Journal",
                "JRN",
                (15, 35),
                ("stationery", "journals", "travel"),
                ("dot-grid fountain-pen paper", "a linen cover"),
                ("192 numbered pages", "an elastic closure", "an expandable back pocket"),
            ),
        ),
    ),
    CategoryBlock(
        slug="toys",
        name="Toys & Games",
        description="Board games, puzzles and wooden toys for every age.",
        code="TOY",
        brands=("Tinker & Twig", "Meeple Works", "Brightbox", "Little Harbour"),
        adjectives=("Classic", "Deluxe", "Family", "Travel", "Junior", "Collector's"),
        colours=("Rainbow", "Natural Wood", "Pastel", "Primary", "Forest", "Ocean"),
        kinds=(
            Kind(
                "Strategy Board Game",
                "BRG",
                (29, 79),
                ("games", "board-games", "family"),
                ("linen-finish cards", "wooden tokens"),
                ("2 to 5 players", "60-minute rounds", "a solo variant"),
            ),
            Kind(
                "Jigsaw Puzzle",
                "PZL",
                (15, 39),
                ("puzzles", "family", "gifts"),
                ("recycled greyboard", "premium blue-core card"),
                ("1,000 snug-fit pieces", "a full-size reference poster", "a resealable bag"),
            ),
            Kind(
                "Wooden Train Set",
                "TRN",
                (39, 129),
                ("toys", "wooden", "kids"),
                ("FSC-certified beech", "water-based paints"),
                ("magnetic couplings", "a figure-eight track", "a working drawbridge"),
            ),
            Kind(
                "Building Blocks Kit",
                "BLK",
                (25, 99),
                ("toys", "construction", "stem"),
                ("plant-based plastic", "solid maple"),
                ("over 300 pieces", "an idea booklet", "a storage tub"),
            ),
        ),
    ),
    CategoryBlock(
        slug="beauty",
        name="Beauty & Care",
        description="Skincare, grooming and bath essentials with short ingredient lists.",
        code="BTY",
        brands=("Verdant Botanics", "Salt & Stone", "Marlow Apothecary", "Dewdrop"),
        adjectives=("Gentle", "Daily", "Restorative", "Hydrating", "Clarifying", "Nourishing"),
        colours=("Unscented", "Lavender", "Cedar", "Citrus", "Rose", "Eucalyptus"),
        kinds=(
            Kind(
                "Face Moisturiser",
                "MOI",
                (18, 64),
                ("skincare", "moisturiser", "vegan"),
                ("hyaluronic acid", "squalane and ceramides"),
                ("a fragrance-free formula", "a recyclable pump bottle", "48-hour hydration"),
            ),
            Kind(
                "Shampoo Bar",
                "SHM",
                (9, 19),
                ("haircare", "plastic-free", "vegan"),
                ("cold-pressed coconut oil", "shea butter"),
                ("up to 80 washes", "a compostable wrapper", "a pH-balanced lather"),
            ),
            Kind(
                "Beard Oil",
                "BRD",
                (14, 34),
                ("grooming", "beard", "natural"),
                ("jojoba and argan oils", "cold-pressed hemp seed oil"),
                ("a glass dropper", "a non-greasy finish", "a soothing blend for sensitive skin"),
            ),
            Kind(
                "Bath Salts",
                "BTH",
                (12, 39),
                ("bath", "relaxation", "natural"),
                ("Dead Sea salt", "Epsom salt"),
                ("essential-oil scent", "a resealable pouch", "mineral-rich crystals"),
            ),
        ),
    ),
    CategoryBlock(
        slug="sports",
        name="Sports & Fitness",
        description="Equipment for the gym, the studio, the court and the road.",
        code="SPT",
        brands=("Apex Motion", "Ironleaf", "Kinetic Lab", "Pacefield"),
        adjectives=("Performance", "Pro", "Training", "Competition", "Studio", "Endurance"),
        colours=("Black", "Volt", "Coral", "Storm Grey", "Royal Blue", "White"),
        kinds=(
            Kind(
                "Yoga Mat",
                "YOG",
                (29, 99),
                ("yoga", "fitness", "non-slip"),
                ("natural tree rubber", "closed-cell TPE"),
                ("alignment markings", "a 5 mm cushioning layer", "a carry strap"),
            ),
            Kind(
                "Adjustable Dumbbell",
                "DMB",
                (99, 349),
                ("strength", "weights", "home-gym"),
                ("cast iron plates", "a knurled steel handle"),
                ("a dial weight selector", "2 to 24 kg in one unit", "a moulded storage tray"),
            ),
            Kind(
                "Cycling Jersey",
                "CYC",
                (49, 129),
                ("cycling", "apparel", "breathable"),
                ("recycled polyester mesh", "merino blend"),
                ("three rear pockets", "a full-length zip", "UPF 50 sun protection"),
            ),
            Kind(
                "Tennis Racket",
                "TEN",
                (59, 249),
                ("tennis", "rackets", "court"),
                ("graphite composite", "carbon fibre"),
                ("a 100 square inch head", "a vibration-dampening grip", "a padded cover"),
            ),
        ),
    ),
)

#: Fixed so the demo catalog has the same dates everywhere; offset per product by its position.
SEED_EPOCH_ISO = "2026-01-05T09:00:00+00:00"
