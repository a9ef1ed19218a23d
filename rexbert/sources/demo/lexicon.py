"""The vocabulary of the demo world: domains, product types with their attributes, and brand syllables.

Everything here is constant data. The generators compose it: a product is a brand (built from
syllables, thousands of them) × a product type (about 150, each with its own attribute kinds,
features, uses and complementary types) × attribute values × phrasings. Catalogue titles and the
commerce pages of the web corpus draw on the same tables, so product language learnt from the
corpus transfers to held-out catalogue titles.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- domains (RexBERT paper, Table 1) -------------------------------------------------------------
FILTER_REQUIRED = ("hobby", "news", "health", "entertainment", "travel", "food", "automotive",
                   "sports", "music_and_dance")
DIRECTLY_SELECTED = ("fashion", "beauty", "celebrity", "movie", "photo", "painting")
UNSELECTED = ("physics", "politics", "law", "history", "mathematics")
DOMAINS = FILTER_REQUIRED + DIRECTLY_SELECTED + UNSELECTED

# Share of commerce-relevant documents per domain group (before defects are planted).
COMMERCE_SHARE = {**{d: 0.45 for d in FILTER_REQUIRED}, **{d: 0.85 for d in DIRECTLY_SELECTED},
                  **{d: 0.04 for d in UNSELECTED}}

# --- attribute kinds: label shown in attribute blocks, and the values a product can take ----------
# Values are written exactly as they appear in titles and queries (queries lower-case them).
ATTRIBUTE_LABELS: dict[str, str] = {}
ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {}


def _attr(kind: str, label: str, values: str | list[str]) -> None:
    ATTRIBUTE_LABELS[kind] = label
    ATTRIBUTE_VALUES[kind] = tuple(values.split("|") if isinstance(values, str) else values)


_attr("color", "Color", "Black|White|Navy|Navy Blue|Charcoal Grey|Light Grey|Red|Burgundy|Olive Green|"
      "Forest Green|Mint|Teal|Sky Blue|Royal Blue|Beige|Khaki|Tan|Brown|Coffee|Pink|Blush Pink|Purple|"
      "Lavender|Yellow|Mustard|Orange|Coral|Silver|Gold|Rose Gold|Ivory|Cream|Turquoise|Maroon|Graphite")
_attr("apparel_size", "Size", "Size XS|Size S|Size M|Size L|Size XL|Size XXL|Size 3XL")
_attr("shoe_size", "Size", [f"Size {s}" for s in ("5", "5.5", "6", "6.5", "7", "7.5", "8", "8.5", "9",
                                                  "9.5", "10", "10.5", "11", "11.5", "12", "13")])
_attr("jeans_size", "Size", [f"{w}W x {i}L" for w in (28, 29, 30, 31, 32, 33, 34, 36, 38, 40) for i in (30, 32, 34)])
_attr("gender", "Department", "Men's|Women's|Kids'|Unisex")
_attr("fabric", "Material", "Cotton|Organic Cotton|Linen|Polyester|Merino Wool|Denim|Silk|Rayon|"
      "Fleece|Nylon|Cotton Blend|Cashmere|Corduroy|Bamboo Viscose")
_attr("shoe_material", "Upper Material", "Mesh|Knit|Leather|Suede|Canvas|Synthetic|Vegan Leather")
_attr("hard_material", "Material", "Stainless Steel|Aluminum|ABS Plastic|Tempered Glass|Silicone|"
      "Bamboo|Oak Wood|Ceramic|Carbon Fiber|Cast Iron|Walnut Wood|Borosilicate Glass")
_attr("bag_material", "Material", "Genuine Leather|Vegan Leather|Canvas|Ripstop Nylon|Polycarbonate|"
      "Recycled Polyester|Waxed Cotton")
_attr("fit", "Fit", "Slim Fit|Regular Fit|Relaxed Fit|Skinny Fit|Straight Fit|Bootcut")
_attr("capacity_mah", "Battery Capacity", "5000mAh|10000mAh|15000mAh|20000mAh|25000mAh|26800mAh|30000mAh")
_attr("storage_gb", "Storage", "32GB|64GB|128GB|256GB|512GB|1TB|2TB")
_attr("volume_l", "Capacity", "0.5L|0.8L|1L|1.5L|1.7L|2L|3L|5L|6L")
_attr("volume_qt", "Capacity", "2 Quart|3 Quart|4 Quart|5 Quart|5.8 Quart|6 Quart|8 Quart")
_attr("volume_ml", "Size", "15ml|30ml|50ml|75ml|100ml|150ml|200ml|250ml|400ml|500ml")
_attr("volume_oz", "Capacity", "12 oz|16 oz|18 oz|20 oz|24 oz|32 oz|40 oz|64 oz")
_attr("backpack_l", "Capacity", "20L|25L|30L|35L|40L|45L|50L|65L")
_attr("wattage", "Wattage", "600W|800W|1000W|1200W|1400W|1500W|1800W|1875W|2000W")
_attr("small_watts", "Output Power", "10W|15W|18W|20W|30W|45W|65W|100W")
_attr("speaker_watts", "Output Power", "5W|10W|16W|20W|30W|40W|60W|100W|120W")
_attr("screen_in", "Screen Size", '6 inch|6.8 inch|7 inch|8 inch|10.1 inch|10.9 inch|11 inch|12.4 inch|13 inch')
_attr("resolution", "Resolution", "720p|1080p|1440p|2K|4K|8K")
_attr("megapixels", "Resolution", "12MP|16MP|20MP|24MP|26MP|33MP|45MP|61MP")
_attr("focal", "Focal Length", "35mm f/1.8|50mm f/1.8|50mm f/1.4|85mm f/1.8|24-70mm f/2.8|70-200mm f/4|"
      "16-35mm f/4|18-55mm f/3.5-5.6|100mm f/2.8 Macro")
_attr("length_ft", "Length", "3 ft|6 ft|6.6 ft|10 ft|12 ft|15 ft|25 ft")
_attr("rod_length", "Length", "5'6\"|6'|6'6\"|7'|7'6\"|8'|9'")
_attr("weight_lb", "Weight", "2 lb|3 lb|5 lb|8 lb|10 lb|15 lb|20 lb|25 lb|35 lb|50 lb")
_attr("pack", "Quantity", "Pack of 2|Pack of 3|Pack of 4|Pack of 6|Pack of 10|Pack of 12|Pack of 24")
_attr("count", "Count", "30 Count|60 Count|90 Count|100 Count|120 Count|180 Count|240 Count|365 Count")
_attr("scent", "Scent", "Lavender|Vanilla|Citrus|Sandalwood|Unscented|Coconut|Eucalyptus|Rose|"
      "Fresh Linen|Cedarwood|Jasmine|Ocean Breeze|Amber")
_attr("flavor", "Flavor", "Chocolate|Vanilla|Strawberry|Unflavored|Lemon|Mixed Berry|Orange|Mint|"
      "Salted Caramel|Cinnamon")
_attr("shade", "Shade", "Natural Beige|Ruby Red|Coral Crush|Berry Wine|Dusty Rose|Cherry|Mauve|Plum|"
      "Peach|Classic Red|Brick|Toffee")
_attr("finish", "Finish", "Matte|Satin|Glossy|Metallic|Sheer|Cream")
_attr("skin_type", "Skin Type", "for Dry Skin|for Oily Skin|for Sensitive Skin|for Combination Skin|"
      "for All Skin Types")
_attr("hair_type", "Hair Type", "for Curly Hair|for Fine Hair|for Thick Hair|for Color-Treated Hair|"
      "for Dry Hair|for All Hair Types")
_attr("pieces", "Pieces", "300 Pieces|500 Pieces|750 Pieces|1000 Pieces|1500 Pieces|2000 Pieces")
_attr("set_pieces", "Number of Pieces", "5-Piece|7-Piece|10-Piece|12-Piece|15-Piece|24-Piece|36-Piece|48-Piece")
_attr("age", "Age Range", "Ages 3+|Ages 6+|Ages 8+|Ages 10+|Ages 12+|Ages 14+|Adults")
_attr("players", "Players", "1-4 Players|2 Players|2-4 Players|2-6 Players|3-8 Players")
_attr("battery_hours", "Battery Life", "8 Hours|10 Hours|12 Hours|20 Hours|24 Hours|30 Hours|40 Hours|60 Hours")
_attr("flight_min", "Flight Time", "20 Minutes|25 Minutes|31 Minutes|34 Minutes|40 Minutes|46 Minutes")
_attr("ports", "Ports", "1 Port|2 Ports|3 Ports|4 Ports|6 Ports")
_attr("tire_size", "Tire Size", "205/55R16|215/60R16|225/45R17|225/65R17|235/45R18|245/40R19|265/70R17|275/55R20")
_attr("season", "Season", "All-Season|Winter|Summer|All-Terrain")
_attr("vehicle_fit", "Vehicle Fit", "for Sedans|for SUVs|for Trucks|for Compact Cars|for Vans|Universal Fit")
_attr("amps", "Peak Current", "1000A|1500A|2000A|2500A|3000A|4000A")
_attr("thickness_mm", "Thickness", "4mm|6mm|8mm|10mm|12mm|15mm")
_attr("strings_gauge", "Gauge", "Extra Light 10-47|Light 12-53|Medium 13-56|Custom Light 11-52|Super Light 9-42")
_attr("string_material", "String Material", "Phosphor Bronze|80/20 Bronze|Nickel Wound|Coated Phosphor Bronze|"
      "Pure Nickel|Stainless Steel Wound")
_attr("keys", "Keys", "49 Keys|61 Keys|76 Keys|88 Keys")
_attr("guitar_size", "Body Size", "3/4 Size|Dreadnought|Concert|Grand Auditorium|Parlor|Jumbo")
_attr("wood", "Top Wood", "Spruce|Solid Spruce|Mahogany|Cedar|Rosewood|Maple|Solid Sitka Spruce")
_attr("heel_in", "Heel Height", '1 inch Heel|1.5 inch Heel|2 inch Heel|2.5 inch Heel|3 inch Heel|Flat')
_attr("lumens", "Brightness", "3000 Lumens|4500 Lumens|6000 Lumens|8000 Lumens|9500 Lumens|12000 Lumens")
_attr("screen_diag", "Screen Size", "80 inch|100 inch|110 inch|120 inch|135 inch|150 inch")
_attr("discs", "Discs", "2-Disc|3-Disc|4-Disc|6-Disc|8-Disc|10-Disc")
_attr("poster_size", "Size", "11x17 inch|12x18 inch|16x20 inch|18x24 inch|24x36 inch|27x40 inch")
_attr("canvas_size", "Size", "8x10 inch|9x12 inch|11x14 inch|12x16 inch|16x20 inch|18x24 inch|24x36 inch")
_attr("paint_colors", "Number of Colors", "12 Colors|18 Colors|24 Colors|36 Colors|48 Colors|60 Colors")
_attr("tube_ml", "Tube Size", "12ml|22ml|36ml|59ml|75ml|120ml")
_attr("bristle", "Bristle Type", "Synthetic Taklon|Natural Hog Bristle|Sable Blend|Nylon|Squirrel Hair")
_attr("sheets", "Sheets", "20 Sheets|30 Sheets|50 Sheets|80 Sheets|100 Sheets|150 Sheets|200 Sheets")
_attr("paper_weight", "Paper Weight", "90 lb|140 lb|300 lb|200 gsm|300 gsm")
_attr("height_in", "Max Height", '48 inch|55 inch|60 inch|67 inch|72 inch|77 inch')
_attr("load_lb", "Load Capacity", "6.6 lb|8.8 lb|11 lb|15 lb|22 lb|33 lb")
_attr("card_speed", "Speed Class", "U1 V10|U3 V30|UHS-I U3|UHS-II V60|UHS-II V90")
_attr("aperture_mm", "Aperture", "70mm|80mm|102mm|114mm|130mm|150mm|203mm")
_attr("magnification", "Magnification", "40X-1000X|40X-2000X|100X-1200X|20X-400X|40X-2500X")
_attr("calc_functions", "Functions", "240 Functions|280 Functions|417 Functions|552 Functions")
_attr("flag_size", "Size", "2x3 ft|3x5 ft|4x6 ft|5x8 ft")
_attr("map_size", "Size", "24x36 inch|36x48 inch|40x60 inch|48x78 inch")
_attr("globe_in", "Diameter", "6 inch|9 inch|10 inch|12 inch|13 inch|16 inch")
_attr("book_format", "Format", "Hardcover|Paperback|Large Print|Spiral-Bound")
_attr("pages", "Pages", "192 Pages|256 Pages|320 Pages|384 Pages|448 Pages|512 Pages|640 Pages")
_attr("drawers", "Drawers", "2-Drawer|3-Drawer|4-Drawer|5-Drawer")
_attr("nib", "Nib Size", "Extra Fine Nib|Fine Nib|Medium Nib|Broad Nib|Stub Nib")
_attr("paper_size", "Paper Size", "Letter Size|Legal Size|A4|A5|Junior Size")
_attr("cups", "Capacity", "1 Cup|4 Cup|5 Cup|8 Cup|10 Cup|12 Cup|14 Cup")
_attr("blade_in", "Blade Length", '3.5 inch|5 inch|6 inch|7 inch|8 inch|10 inch')
_attr("pan_in", "Diameter", '6 inch|8 inch|10 inch|10.25 inch|12 inch|13.25 inch|15 inch')
_attr("roast", "Roast Level", "Light Roast|Medium Roast|Medium-Dark Roast|Dark Roast|Espresso Roast")
_attr("bag_oz", "Net Weight", "8 oz|10 oz|12 oz|16 oz|2 lb|5 lb")
_attr("scale", "Scale", "1:10|1:12|1:16|1:18|1:24|1:35|1:72|1:144")
_attr("yarn_weight", "Yarn Weight", "Lace|Fingering|Sport|DK|Worsted|Aran|Bulky|Super Bulky")
_attr("stitches", "Built-in Stitches", "23 Stitches|60 Stitches|100 Stitches|165 Stitches|200 Stitches|600 Stitches")
_attr("cuff", "Cuff Size", "Standard Cuff|Large Cuff|Extra Large Cuff|Wrist Cuff")
_attr("readings", "Memory", "60 Readings|120 Readings|200 Readings|2x120 Readings|500 Readings")
_attr("speed_levels", "Speed Levels", "3 Speeds|5 Speeds|6 Speeds|9 Speeds|20 Speeds|30 Speeds")
_attr("grip", "Grip Size", "Grip 1|Grip 2|Grip 3|Grip 4|Grip 0")
_attr("racket_weight", "Weight", "255g|270g|285g|300g|305g|315g")
_attr("mic_pattern", "Polar Pattern", "Cardioid|Supercardioid|Omnidirectional|Bidirectional|Multi-Pattern")
_attr("connection", "Connectivity", "USB-C|USB|XLR|Bluetooth 5.3|Wireless 2.4GHz|3.5mm Jack")
_attr("lens_type", "Lens", "Polarized|UV400|Gradient|Mirrored|Photochromic|Blue Light Blocking")
_attr("case_mm", "Case Diameter", "36mm|38mm|40mm|41mm|42mm|44mm|46mm")
_attr("band", "Band Material", "Leather Band|Stainless Steel Band|Silicone Band|Nylon Band|Mesh Band")
_attr("light_diameter", "Diameter", '10 inch|12 inch|14 inch|18 inch|21 inch')
_attr("channels", "Channels", "2.0 Channel|2.1 Channel|3.1 Channel|5.1 Channel|7.1 Channel|5.1.2 Channel")
_attr("plug", "Plug Types", "US/EU/UK/AU|EU/UK|US/UK|Worldwide 150+ Countries")
_attr("dimension_in", "Dimensions", '20 inch|22 inch|24 inch|26 inch|28 inch|30 inch')
_attr("board_size", "Size", "24x36 inch|36x48 inch|48x72 inch|18x24 inch|12x16 inch")
_attr("mount_type", "Mount Type", "Dashboard Mount|Vent Mount|Windshield Mount|Cup Holder Mount|Magnetic Mount")
_attr("band_radio", "Bands", "AM/FM|AM/FM/SW|AM/FM/NOAA Weather|FM/DAB+")
_attr("power_source", "Power Source", "Battery Powered|Hand Crank|Solar and Crank|AC Adapter|Rechargeable")
_attr("magnification_x", "Magnification", "10x50|12x42|8x42|15x70|20x80")

# --- product types --------------------------------------------------------------------------------
# One line per type: domain ; name ; plural ; attribute kinds ; features ; uses ; complements ; price range.
# The first attribute kinds are the ones queries favour.
_TYPE_TABLE = """
hobby;drone;drones;resolution,flight_min,color;3-axis gimbal,GPS return-to-home,obstacle avoidance,foldable arms,follow-me mode;aerial photography,travel vlogs,beginner pilots;memory card,drone battery,camera bag;59-899
hobby;drone battery;drone batteries;capacity_mah,pack;smart charge indicator,low self-discharge cells,overheat protection;longer flights,spare power;drone;19-119
hobby;jigsaw puzzle;jigsaw puzzles;pieces,poster_size,age;thick blue-board pieces,anti-glare finish,random-cut shapes,reference poster;family game nights,rainy afternoons,gifts;puzzle mat;9-39
hobby;puzzle mat;puzzle mats;poster_size,color;roll-up storage tube,felt surface,inflatable core;storing unfinished puzzles,travel;jigsaw puzzle;12-35
hobby;knitting yarn;knitting yarns;yarn_weight,fabric,color,pack;soft twist,machine washable fibres,consistent dye lots;scarves,blankets,beginner projects;knitting needles;6-49
hobby;knitting needles;knitting needle sets;set_pieces,hard_material;smooth joins,tapered tips,storage pouch;socks,sweaters,circular knitting;knitting yarn;12-59
hobby;model kit;model kits;scale,set_pieces,age;detailed decals,snap-fit parts,step-by-step manual;display shelves,weekend builds;hobby paint set;15-129
hobby;hobby paint set;hobby paint sets;paint_colors,tube_ml;fast-drying acrylic,airbrush-ready formula,dropper bottles;miniatures,model kits;model kit;14-45
hobby;fishing rod;fishing rods;rod_length,hard_material;sensitive tip,cork handle,corrosion-resistant guides;bass fishing,lake trips,trout streams;fishing reel;29-189
hobby;fishing reel;fishing reels;hard_material,speed_levels;smooth drag system,ball bearings,instant anti-reverse;freshwater fishing,saltwater fishing;fishing rod;25-159
hobby;sewing machine;sewing machines;stitches,color;automatic needle threader,LED work light,drop-in bobbin;quilting,alterations,beginner sewing;sewing thread set;89-499
hobby;sewing thread set;sewing thread sets;pack,fabric;colorfast dye,tangle-free spools,high tensile strength;quilting,embroidery;sewing machine;9-29
news;e-reader;e-readers;screen_in,storage_gb,color;glare-free display,adjustable warm light,weeks of battery,waterproof body;reading in bed,commutes,beach holidays;e-reader cover;89-279
news;e-reader cover;e-reader covers;screen_in,bag_material,color;auto sleep and wake,hand strap,magnetic closure;protecting the screen,travel;e-reader;12-39
news;tablet;tablets;screen_in,storage_gb,color;octa-core processor,all-day battery,quad speakers,expandable storage;reading the news,streaming,video calls;tablet stand,stylus pen;129-899
news;tablet stand;tablet stands;hard_material,color;adjustable angle,anti-slip pads,foldable base;video calls,recipes,desk work;tablet;15-49
news;stylus pen;stylus pens;color,pack;palm rejection,tilt sensitivity,magnetic charging;note-taking,sketching;tablet;19-89
news;portable radio;portable radios;band_radio,power_source,color;emergency siren,built-in flashlight,digital tuner;power outages,camping,morning news;rechargeable batteries;19-79
news;rechargeable batteries;rechargeable batteries;pack,capacity_mah;low self-discharge,pre-charged cells,1200 recharge cycles;radios,remote controls,toys;battery charger;12-45
news;battery charger;battery chargers;ports,small_watts;individual charging slots,LCD display,overcharge protection;AA and AAA cells;rechargeable batteries;15-39
health;blood pressure monitor;blood pressure monitors;cuff,readings,connection;irregular heartbeat detection,two-user mode,large backlit display;home monitoring,doctor visits;blood pressure cuff;29-99
health;blood pressure cuff;blood pressure cuffs;cuff,color;soft nylon lining,D-ring closure,latex-free;replacement cuffs;blood pressure monitor;12-35
health;digital thermometer;digital thermometers;color,pack;8-second reading,fever alarm,flexible tip;kids,adults,night checks;thermometer probe covers;8-35
health;thermometer probe covers;thermometer probe covers;count;hygienic single use,snug fit;clinics,home care;digital thermometer;6-15
health;vitamin d3 supplement;vitamin d3 supplements;count,flavor;third-party tested,easy-to-swallow softgels,no artificial colors;immune support,bone health;pill organizer;9-29
health;pill organizer;pill organizers;pack,color;AM/PM compartments,push-button lids,BPA-free plastic;weekly routines,travel;vitamin d3 supplement;6-19
health;pulse oximeter;pulse oximeters;color,connection;bright OLED display,auto power-off,lanyard included;sports,altitude,home checks;rechargeable batteries;19-49
health;electric toothbrush;electric toothbrushes;color,speed_levels,battery_hours;pressure sensor,2-minute smart timer,travel case;sensitive gums,whitening;toothbrush heads;29-199
health;toothbrush heads;toothbrush heads;pack,color;soft bristles,indicator bristles,deep-clean shape;replacement every three months;electric toothbrush;12-35
health;massage gun;massage guns;speed_levels,battery_hours,color;quiet brushless motor,interchangeable heads,carry case;muscle recovery,post-workout soreness;massage gun attachments;49-299
health;massage gun attachments;massage gun attachment sets;set_pieces,hard_material;universal fit,soft foam heads,stainless steel tips;targeted recovery;massage gun;14-39
health;first aid kit;first aid kits;set_pieces,color;waterproof case,labelled compartments,emergency blanket;car trips,hiking,office;digital thermometer;15-59
entertainment;smartphone;smartphones;storage_gb,color,screen_in;triple camera system,all-day battery,OLED display,5G connectivity;photos,gaming,streaming;phone case,screen protector,phone charger;199-1199
entertainment;phone case;phone cases;color,hard_material;raised camera lip,shock-absorbing corners,wireless charging compatible;daily protection,drops;smartphone;9-49
entertainment;screen protector;screen protectors;pack,hard_material;9H hardness,bubble-free installation,case friendly;scratch protection;smartphone;7-25
entertainment;phone charger;phone chargers;small_watts,ports,color;fast charging,foldable plug,GaN technology;phones,tablets,earbuds;smartphone,usb-c cable;12-59
entertainment;usb-c cable;usb-c cables;length_ft,pack,color;braided nylon jacket,fast-charge support,reinforced connectors;charging,data transfer;phone charger;7-25
entertainment;gaming console;gaming consoles;storage_gb,color;ray tracing graphics,fast SSD loading,backward compatibility;family gaming,online play;game controller,gaming headset;299-599
entertainment;game controller;game controllers;color,connection;hall-effect sticks,rechargeable battery,programmable back buttons;gaming consoles,PC games;gaming console,controller charging station;29-89
entertainment;controller charging station;controller charging stations;ports,color;LED charge indicators,docking in seconds,overcharge protection;tidy gaming setups;game controller;15-35
entertainment;gaming headset;gaming headsets;connection,color,battery_hours;detachable noise-cancelling mic,surround sound,memory foam ear cushions;long gaming sessions,team chat;gaming console;29-199
entertainment;bluetooth speaker;bluetooth speakers;speaker_watts,battery_hours,color;IPX7 waterproofing,deep bass,stereo pairing;pool parties,camping,home;usb-c cable;25-249
entertainment;board game;board games;players,age,set_pieces;quick-to-learn rules,replayable scenarios,illustrated cards;game nights,family evenings;card sleeves;19-69
entertainment;card sleeves;card sleeve packs;count,color;acid-free film,clear backs,snug fit;protecting board game cards;board game;6-15
entertainment;streaming stick;streaming sticks;resolution,color;voice remote,Dolby Vision support,fast Wi-Fi;streaming TV shows,movies;hdmi cable;29-59
entertainment;hdmi cable;hdmi cables;length_ft,resolution,pack;48Gbps bandwidth,gold-plated connectors,braided jacket;TVs,projectors,consoles;streaming stick,gaming console;8-29
travel;carry-on luggage;carry-on luggages;dimension_in,bag_material,color;360-degree spinner wheels,TSA-approved lock,expandable zipper;weekend trips,business travel;luggage tag,packing cubes;69-349
travel;luggage tag;luggage tags;pack,bag_material,color;privacy flap,steel loop,ID card insert;spotting bags at the carousel;carry-on luggage;7-19
travel;travel backpack;travel backpacks;backpack_l,bag_material,color;clamshell opening,laptop sleeve,water-resistant fabric;backpacking,carry-on only trips;packing cubes,rain cover;39-199
travel;rain cover;rain covers;backpack_l,color;elastic edge,reflective strip,stuff pocket;rainy hikes,cycling commutes;travel backpack;9-25
travel;power bank;power banks;capacity_mah,ports,color;USB-C PD fast charging,LED battery display,airline-safe size;long flights,festivals,emergencies;usb-c cable,smartphone;19-89
travel;neck pillow;neck pillows;fabric,color;memory foam core,washable cover,clip-on strap;long-haul flights,road trips;sleep mask;12-39
travel;sleep mask;sleep masks;fabric,color,pack;contoured eye cups,adjustable strap,total blackout;flights,night shifts;neck pillow;7-25
travel;packing cubes;packing cube sets;set_pieces,color,bag_material;double zippers,mesh top panel,compression design;organised suitcases;carry-on luggage,travel backpack;15-45
travel;travel adapter;travel adapters;plug,ports,color;built-in surge protection,safety shutters,USB-C output;international trips;power bank,phone charger;15-45
food;blender;blenders;wattage,volume_l,color;stainless steel blades,pulse function,self-cleaning mode;smoothies,soups,frozen drinks;blender bottle;39-399
food;blender bottle;blender bottles;volume_oz,color,pack;leak-proof lid,stainless whisk ball,dishwasher safe;protein shakes,gym bags;blender;8-24
food;coffee maker;coffee makers;cups,color;programmable brew timer,keep-warm plate,brew strength control;mornings,offices;coffee filters,coffee beans;29-249
food;coffee filters;coffee filters;count,cups;unbleached paper,no paper taste,fits most basket brewers;daily brewing;coffee maker;5-14
food;coffee beans;coffee bags;roast,bag_oz,flavor;single origin beans,small-batch roasting,resealable valve bag;espresso,drip coffee,cold brew;coffee maker,coffee grinder;9-29
food;coffee grinder;coffee grinders;color,speed_levels;conical burrs,18 grind settings,anti-static chamber;espresso,pour-over;coffee beans;25-179
food;chef knife;chef knives;blade_in,hard_material;full-tang construction,ergonomic handle,razor-sharp edge;chopping,slicing,dicing;cutting board,knife sharpener;25-189
food;cutting board;cutting boards;hard_material,pack;juice groove,non-slip feet,reversible surface;meal prep,serving cheese;chef knife;15-69
food;knife sharpener;knife sharpeners;hard_material,color;3-stage sharpening,diamond coarse slot,non-slip base;kitchen knives;chef knife;9-39
food;cast iron skillet;cast iron skillets;pan_in,hard_material;pre-seasoned surface,helper handle,oven safe to 500F;searing steaks,cornbread,camping;skillet handle cover;19-89
food;skillet handle cover;skillet handle covers;pack,color;heat-resistant silicone,easy slip-on fit;hot pans;cast iron skillet;6-14
food;air fryer;air fryers;volume_qt,wattage,color;digital touchscreen,nonstick basket,8 preset programs;crispy fries,quick dinners;air fryer liners;49-199
food;air fryer liners;air fryer liner packs;count,volume_qt;non-stick parchment,perforated base,food-grade paper;easy cleanup;air fryer;7-15
food;food storage containers;food storage container sets;set_pieces,hard_material;snap-lock lids,microwave safe,stackable design;meal prep,leftovers;lunch bag;19-59
food;lunch bag;lunch bags;color,bag_material;insulated lining,leak-proof liner,shoulder strap;work lunches,school;food storage containers;12-35
automotive;dash cam;dash cams;resolution,storage_gb;night vision,loop recording,parking mode,G-sensor;commuting,rideshare driving;memory card,car charger;39-249
automotive;car tire;car tires;tire_size,season;long tread life,wet-grip compound,low road noise;daily driving,highways;tire inflator;79-299
automotive;tire inflator;tire inflators;color,power_source;auto shut-off,digital pressure gauge,LED light;flat tires,bike tires;car tire;25-89
automotive;car phone mount;car phone mounts;mount_type,color;one-hand operation,360-degree rotation,strong suction cup;navigation,hands-free calls;smartphone,car charger;12-39
automotive;car charger;car chargers;small_watts,ports,color;fast charging,aluminium shell,short-circuit protection;road trips,commuting;car phone mount,usb-c cable;9-35
automotive;car floor mats;car floor mat sets;vehicle_fit,color,hard_material;raised edges,anti-slip backing,trim-to-fit design;muddy boots,snowy winters;car seat covers;25-129
automotive;car seat covers;car seat cover sets;vehicle_fit,fabric,color;airbag compatible,waterproof layer,universal straps;pet owners,family cars;car floor mats;29-149
automotive;jump starter;jump starters;amps,capacity_mah;spark-proof clamps,built-in flashlight,USB power bank mode;dead batteries,winter mornings;jump starter case;49-189
automotive;jump starter case;jump starter cases;color,bag_material;hard EVA shell,mesh pocket,carry handle;car trunks;jump starter;12-29
automotive;car cover;car covers;vehicle_fit,color;UV protection,waterproof fabric,windproof straps;outdoor parking,hail season;car floor mats;39-129
sports;running shoes;running shoes;gender,shoe_size,color,shoe_material;responsive foam midsole,breathable upper,durable rubber outsole;daily runs,marathon training,gym workouts;running socks,shoe insoles;49-189
sports;running socks;running sock packs;apparel_size,pack,color;cushioned heel,moisture-wicking yarn,arch support band;long runs,training;running shoes;9-29
sports;shoe insoles;shoe insole pairs;shoe_size,gender;deep heel cup,gel cushioning,trim-to-fit;plantar fasciitis,standing all day;running shoes;12-45
sports;yoga mat;yoga mats;thickness_mm,color,hard_material;non-slip texture,alignment lines,carry strap;yoga,pilates,home workouts;yoga blocks,yoga mat bag;19-99
sports;yoga blocks;yoga block sets;pack,color;high-density EVA foam,beveled edges,lightweight build;deeper stretches,balance;yoga mat;9-29
sports;yoga mat bag;yoga mat bags;color,fabric;full-length zipper,side pocket,adjustable strap;studio commutes;yoga mat;15-39
sports;dumbbells;dumbbell sets;weight_lb,pack,hard_material;hexagonal heads,knurled handles,rubber coating;strength training,home gyms;dumbbell rack;19-299
sports;dumbbell rack;dumbbell racks;hard_material,color;tiered design,welded steel frame,floor protectors;home gyms;dumbbells;39-149
sports;fitness tracker;fitness trackers;color,battery_hours,connection;heart rate monitoring,sleep tracking,built-in GPS;running,cycling,swimming;fitness tracker band;29-249
sports;fitness tracker band;fitness tracker bands;band,color,pack;quick-release pins,sweat-proof,adjustable length;swapping styles;fitness tracker;8-25
sports;water bottle;water bottles;volume_oz,hard_material,color;double-wall insulation,leak-proof lid,cold for 24 hours;hiking,gym,school;bottle cleaning brush;12-45
sports;bottle cleaning brush;bottle cleaning brush sets;set_pieces,color;long handle,straw brush,soft sponge tip;water bottles;water bottle;6-15
sports;tennis racket;tennis rackets;grip,racket_weight,color;graphite frame,vibration dampening,large sweet spot;club play,beginners,baseliners;tennis balls;29-249
sports;tennis balls;tennis ball cans;pack,color;extra-duty felt,pressurized core,high visibility;practice,matches;tennis racket;5-29
music_and_dance;acoustic guitar;acoustic guitars;guitar_size,wood,color;scalloped bracing,slim neck,built-in tuner;beginners,songwriting,campfires;guitar strings,guitar case,guitar tuner;99-999
music_and_dance;guitar strings;guitar string sets;strings_gauge,string_material,pack;long-lasting coating,bright tone,corrosion resistance;acoustic guitars,recording;acoustic guitar;6-25
music_and_dance;guitar case;guitar cases;guitar_size,bag_material,color;padded interior,backpack straps,accessory pocket;gigs,travel;acoustic guitar;29-149
music_and_dance;guitar tuner;guitar tuners;color,pack;clip-on design,bright color display,chromatic mode;quick tuning on stage;acoustic guitar;9-29
music_and_dance;digital piano;digital pianos;keys,color;weighted hammer action,128-note polyphony,headphone jack;lessons,home practice;piano bench,sustain pedal;199-999
music_and_dance;sustain pedal;sustain pedals;color,connection;piano-style pedal,non-slip rubber base,polarity switch;keyboards,digital pianos;digital piano;12-39
music_and_dance;piano bench;piano benches;hard_material,color;adjustable height,padded seat,music storage;long practice sessions;digital piano;39-149
music_and_dance;wireless headphones;wireless headphones;color,battery_hours,connection;active noise cancellation,multipoint pairing,plush ear cushions;commutes,studio listening,dance practice;headphone stand;39-399
music_and_dance;headphone stand;headphone stands;hard_material,color;weighted base,cable holder,scratch-free padding;desk setups;wireless headphones;12-39
music_and_dance;dance shoes;dance shoes;gender,shoe_size,heel_in,color;suede sole,flexible arch,padded insole;ballroom,salsa,tango;dance shoe bag;29-129
music_and_dance;dance shoe bag;dance shoe bags;color,bag_material;breathable mesh panel,drawstring top,separate compartments;studio trips;dance shoes;9-25
music_and_dance;usb microphone;usb microphones;mic_pattern,connection,color;zero-latency monitoring,mute button,shock mount;podcasts,streaming,vocals;microphone stand,pop filter;39-199
music_and_dance;microphone stand;microphone stands;hard_material,color;boom arm,tripod base,adjustable height;vocals,podcasting;usb microphone;15-59
music_and_dance;pop filter;pop filters;color,hard_material;double mesh screen,flexible gooseneck,universal clamp;vocal recording;usb microphone;8-19
fashion;wrap dress;wrap dresses;apparel_size,color,fabric;flutter sleeves,V-neckline,self-tie waist;weddings,summer evenings,office days;handbag;29-129
fashion;jeans;jeans;jeans_size,fit,color,gender;stretch denim,five-pocket styling,reinforced seams;everyday wear,weekends;leather belt;29-129
fashion;sneakers;sneakers;gender,shoe_size,color,shoe_material;cushioned footbed,padded collar,vulcanized sole;everyday wear,travel;shoe insoles,sneaker cleaning kit;39-169
fashion;sneaker cleaning kit;sneaker cleaning kits;set_pieces,volume_ml;plant-based cleaner,soft brush,microfiber towel;white sneakers,suede;sneakers;12-29
fashion;handbag;handbags;bag_material,color;gold-tone hardware,zip top closure,detachable strap;work,evenings out;wallet,wrap dress;39-349
fashion;wallet;wallets;bag_material,color;RFID blocking,slim profile,coin pocket;everyday carry,gifts;handbag,leather belt;15-89
fashion;winter jacket;winter jackets;gender,apparel_size,color,fabric;water-repellent shell,detachable hood,synthetic down fill;cold commutes,ski trips;wool scarf;69-299
fashion;wool scarf;wool scarves;fabric,color;fringed ends,oversized length,brushed finish;winter walks,gifts;winter jacket;19-79
fashion;t-shirt;t-shirts;gender,apparel_size,color,pack,fabric;tag-free collar,pre-shrunk fabric,double-stitched hems;layering,workouts,everyday wear;jeans;12-45
fashion;sunglasses;sunglasses;lens_type,color,gender;lightweight frame,spring hinges,scratch-resistant lenses;driving,beach days,fishing;sunglasses case;15-199
fashion;sunglasses case;sunglasses cases;color,bag_material;hard shell,microfiber cleaning cloth,belt clip;travel;sunglasses;8-25
fashion;wristwatch;wristwatches;gender,case_mm,band,color;sapphire crystal,water resistant to 100m,luminous hands;office wear,formal events;watch winder;49-499
fashion;watch winder;watch winders;color,hard_material;quiet motor,multiple rotation modes,velvet cushion;automatic watches;wristwatch;39-199
fashion;leather belt;leather belts;gender,color,bag_material;solid brass buckle,stitched edges,five adjustment holes;jeans,suits;jeans,wallet;15-69
beauty;lipstick;lipsticks;shade,finish,pack;long-wear formula,hydrating shea butter,transfer-resistant pigment;everyday makeup,parties;lip liner,makeup remover;8-39
beauty;lip liner;lip liners;shade,pack;creamy glide,built-in sharpener,waterproof;defined lips;lipstick;6-22
beauty;moisturizer;moisturizers;skin_type,volume_ml,scent;hyaluronic acid,ceramide complex,non-greasy finish;morning routines,winter dryness;facial cleanser,sunscreen;12-69
beauty;facial cleanser;facial cleansers;skin_type,volume_ml;gentle foaming gel,pH-balanced formula,fragrance-free option;daily cleansing,makeup removal;moisturizer;8-35
beauty;sunscreen;sunscreens;volume_ml,skin_type;broad spectrum SPF 50,reef-friendly formula,no white cast;beach days,daily wear;moisturizer;9-35
beauty;hair dryer;hair dryers;wattage,color,speed_levels;ionic technology,concentrator nozzle,cool shot button;quick blowouts,travel;diffuser attachment,hair straightener;25-399
beauty;diffuser attachment;diffuser attachments;color,hard_material;universal fit,long prongs,even airflow;curly hair;hair dryer;9-29
beauty;hair straightener;hair straighteners;color,speed_levels;ceramic tourmaline plates,auto shut-off,dual voltage;sleek styles,waves;heat protectant spray;25-199
beauty;heat protectant spray;heat protectant sprays;volume_ml,hair_type,scent;protection up to 450F,frizz control,lightweight mist;heat styling;hair straightener,hair dryer;8-29
beauty;perfume;perfumes;volume_ml,scent;long-lasting eau de parfum,refillable bottle,warm base notes;evenings,gifts,signature scents;perfume atomizer;29-189
beauty;perfume atomizer;perfume atomizers;volume_ml,color,pack;leak-proof pump,funnel refill,pocket size;travel;perfume;8-25
beauty;makeup brush set;makeup brush sets;set_pieces,bristle,color;dense synthetic bristles,vegan materials,travel pouch;foundation,contour,eyeshadow;makeup brush cleaner;12-59
beauty;makeup brush cleaner;makeup brush cleaners;volume_ml,scent;quick-dry formula,gentle on bristles;weekly cleaning;makeup brush set;7-19
beauty;shampoo;shampoos;hair_type,volume_ml,scent;sulfate-free formula,argan oil,color-safe;daily washing,damaged hair;conditioner;7-35
beauty;conditioner;conditioners;hair_type,volume_ml,scent;detangling formula,keratin protein,silicone-free;soft hair;shampoo;7-35
beauty;makeup remover;makeup removers;volume_ml,skin_type;micellar water,oil-free,no rinse needed;waterproof mascara;lipstick;6-24
celebrity;celebrity memoir;celebrity memoirs;book_format,pages;exclusive photographs,foreword by a co-star,behind-the-scenes stories;fans,gifts;book light;14-35
celebrity;book light;book lights;color,battery_hours;warm amber light,flexible neck,clip-on design;late-night reading;celebrity memoir;9-25
celebrity;tour hoodie;tour hoodies;apparel_size,color,fabric;screen-printed tour dates,kangaroo pocket,brushed fleece interior;concerts,fan meetups;tour poster;35-89
celebrity;tour poster;tour posters;poster_size,pack;archival ink,heavyweight matte paper,rolled in a tube;fan rooms,collecting;poster frame;12-49
celebrity;poster frame;poster frames;poster_size,color,hard_material;shatter-resistant plexiglass,wall hanging hardware,slim profile;fan posters,prints;tour poster;15-59
celebrity;signature fragrance;signature fragrances;volume_ml,scent;celebrity-inspired notes,limited-edition bottle,long-lasting sillage;gifts,evenings;perfume atomizer;29-129
celebrity;ring light;ring lights;light_diameter,color;dimmable LED,phone holder,adjustable tripod;selfies,makeup tutorials,live streams;phone tripod;19-99
movie;blu-ray box set;blu-ray box sets;discs,book_format;remastered picture,director's commentary,collectible slipcase;movie marathons,collectors;blu-ray player;19-129
movie;blu-ray player;blu-ray players;resolution,color;HDR10 support,upscaling of DVDs,fast disc loading;home cinema nights;blu-ray box set,hdmi cable;79-249
movie;home projector;home projectors;lumens,resolution,color;keystone correction,built-in speakers,low fan noise;backyard movie nights,home cinema;projector screen,hdmi cable;99-1299
movie;projector screen;projector screens;screen_diag,hard_material;wrinkle-free fabric,foldable frame,black backing;outdoor screenings,home theaters;home projector;29-199
movie;soundbar;soundbars;channels,speaker_watts,color;dialogue enhancement,wireless subwoofer,night mode;movies,sports broadcasts;hdmi cable;79-699
movie;popcorn maker;popcorn makers;wattage,volume_qt,color;hot-air popping,measuring cap,butter melting tray;movie nights,parties;popcorn kernels;25-89
movie;popcorn kernels;popcorn kernel bags;bag_oz,flavor;non-GMO kernels,big fluffy pop,resealable bag;movie nights;popcorn maker;6-19
movie;movie poster;movie posters;poster_size,finish;archival inks,vintage artwork,rolled shipping tube;home theaters,dorm rooms;poster frame;12-45
photo;mirrorless camera;mirrorless cameras;megapixels,color,resolution;in-body image stabilization,eye-tracking autofocus,flip-out screen;travel photography,portraits,vlogging;camera lens,memory card,camera bag;499-2999
photo;camera lens;camera lenses;focal,hard_material;weather sealing,quiet stepping motor,nano coating;portraits,landscapes,street photography;mirrorless camera,lens filter;149-1899
photo;lens filter;lens filters;hard_material,pack;multi-coated glass,slim frame,ND and UV options;bright days,long exposures;camera lens;15-89
photo;tripod;tripods;height_in,hard_material,load_lb;ball head,quick-release plate,bubble level;landscapes,night shots,video;mirrorless camera;25-249
photo;phone tripod;phone tripods;height_in,color;bluetooth remote,flexible legs,phone clamp;selfies,vlogging;ring light,smartphone;12-39
photo;memory card;memory cards;storage_gb,card_speed;fast write speeds,shockproof build,waterproof;4K video,burst shooting;mirrorless camera,dash cam,drone,memory card reader;9-129
photo;memory card reader;memory card readers;connection,color;dual slots,aluminium housing,plug and play;fast transfers;memory card;12-35
photo;camera bag;camera bags;backpack_l,bag_material,color;customisable dividers,rain cover,side access;day hikes,travel;mirrorless camera,drone;39-199
photo;photo printer;photo printers;color,connection;dye-sublimation prints,app editing,borderless output;instant prints,scrapbooking;photo paper;79-199
photo;photo paper;photo paper packs;sheets,paper_size,finish;instant-dry coating,fade resistance,bright white base;prints,portfolios;photo printer;9-39
painting;acrylic paint set;acrylic paint sets;paint_colors,tube_ml;rich pigments,non-toxic formula,smooth consistency;canvas painting,crafts,students;paint brushes,stretched canvas,palette knife set;12-59
painting;oil paint set;oil paint sets;paint_colors,tube_ml;high pigment load,buttery texture,lightfast colors;landscapes,portraits;paint brushes,stretched canvas;19-99
painting;paint brushes;paint brush sets;set_pieces,bristle;seamless ferrules,wooden handles,sharp edges;acrylics,oils,watercolors;acrylic paint set,brush cleaner;9-39
painting;brush cleaner;brush cleaners;volume_ml,scent;solvent-free formula,conditions bristles;oil brushes;paint brushes;8-19
painting;stretched canvas;stretched canvas packs;canvas_size,pack;triple-primed cotton,staple-free back,acid-free;acrylic painting,pouring;acrylic paint set,easel;15-79
painting;easel;easels;hard_material,height_in;adjustable angle,tray for supplies,foldable legs;studio painting,plein air;stretched canvas;29-189
painting;watercolor paper;watercolor paper pads;sheets,paper_weight,canvas_size;cold-pressed texture,cotton fibre,acid-free;watercolor sketches,ink;watercolor paint set;9-39
painting;watercolor paint set;watercolor paint sets;paint_colors,pack;portable tin,water brush pens,vivid pans;urban sketching,travel journals;watercolor paper,paint brushes;12-69
painting;palette knife set;palette knife sets;set_pieces,hard_material;flexible steel blades,offset handles;impasto,mixing paint;acrylic paint set;7-19
physics;telescope;telescopes;aperture_mm,hard_material;fully coated optics,equatorial mount,smartphone adapter;stargazing,planet viewing,kids;telescope eyepiece kit;89-999
physics;telescope eyepiece kit;telescope eyepiece kits;set_pieces,hard_material;Barlow lens,moon filter,aluminium case;sharper views;telescope;29-89
physics;digital multimeter;digital multimeters;color,hard_material;auto-ranging,true RMS,backlit display;electronics,school labs;test lead set;19-79
physics;test lead set;test lead sets;set_pieces,color;silicone insulation,alligator clips,banana plugs;multimeters;digital multimeter;9-25
physics;binoculars;binoculars;magnification_x,color;BAK4 prisms,fog-proof housing,tripod adapter;bird watching,astronomy;binocular harness;39-249
physics;binocular harness;binocular harnesses;color,fabric;cross-back straps,quick-release clips;hiking with binoculars;binoculars;12-29
politics;desk flag set;desk flag sets;flag_size,pack;fade-resistant dye,gold finial,weighted base;offices,classrooms;flag pole kit;12-39
politics;flag pole kit;flag pole kits;length_ft,hard_material;tangle-free spinning pole,mounting bracket;front porches;desk flag set;19-59
politics;pocket constitution;pocket constitutions;book_format,pack;full text and amendments,index of clauses;students,civics classes;book light;3-12
law;legal pad;legal pad packs;sheets,paper_size,pack;perforated top,wide ruling,heavy backing board;note-taking,meetings;fountain pen;9-29
law;fountain pen;fountain pens;nib,color;converter and cartridges,smooth ink flow,brass body;signing documents,journaling;fountain pen ink;19-149
law;fountain pen ink;fountain pen ink bottles;volume_ml,color;fast-drying,water-resistant,archival quality;fountain pens;fountain pen;9-29
law;filing cabinet;filing cabinets;drawers,color,hard_material;lockable drawers,full-extension slides,anti-tip design;home offices,law firms;hanging file folders;79-299
law;hanging file folders;hanging file folder boxes;count,color,paper_size;reinforced hooks,tabs and inserts;organising case files;filing cabinet;9-29
history;world globe;world globes;globe_in,color;raised relief terrain,illuminated base,rotating axis;classrooms,study decor;world wall map;25-149
history;world wall map;world wall maps;map_size,finish;laminated surface,detailed borders,vivid colours;classrooms,offices;world globe;12-59
history;history atlas;history atlases;book_format,pages;period maps,timelines,illustrated battles;students,history buffs;book light;19-59
mathematics;graphing calculator;graphing calculators;calc_functions,color;color display,rechargeable battery,exam mode;algebra,calculus exams;calculator case;49-159
mathematics;calculator case;calculator cases;color,bag_material;hard shell,mesh pocket,zip closure;school bags;graphing calculator,scientific calculator;9-19
mathematics;scientific calculator;scientific calculators;calc_functions,color;two-line display,solar and battery power,slide-on cover;school,engineering;calculator case;9-29
mathematics;geometry set;geometry sets;set_pieces,hard_material;compass with lock,protractor,metal case;geometry class,technical drawing;graph paper notebook;6-19
mathematics;graph paper notebook;graph paper notebooks;sheets,pack,paper_size;quad ruled grid,lay-flat binding,thick paper;math homework,engineering sketches;geometry set;6-19
mathematics;whiteboard;whiteboards;board_size,hard_material;magnetic surface,aluminium frame,marker tray;tutoring,home offices;whiteboard markers;25-129
mathematics;whiteboard markers;whiteboard marker packs;pack,color;low-odour ink,chisel tip,dry-erase;whiteboards,planning;whiteboard;7-19
"""


@dataclass(frozen=True)
class ProductType:
    """A kind of product: its name, attribute kinds, selling points and complementary types."""

    domain: str
    name: str
    plural: str
    attributes: tuple[str, ...]
    features: tuple[str, ...]
    uses: tuple[str, ...]
    complements: tuple[str, ...]
    price_low: int
    price_high: int


def _parse_types() -> tuple[ProductType, ...]:
    types = []
    for line in _TYPE_TABLE.strip().splitlines():
        domain, name, plural, attrs, feats, uses, comps, price = line.split(";")
        low, high = price.split("-")
        types.append(ProductType(domain, name, plural, tuple(attrs.split(",")), tuple(feats.split(",")),
                                 tuple(uses.split(",")), tuple(comps.split(",")), int(low), int(high)))
    return tuple(types)


PRODUCT_TYPES: tuple[ProductType, ...] = _parse_types()
TYPE_BY_NAME: dict[str, ProductType] = {t.name: t for t in PRODUCT_TYPES}
TYPES_BY_DOMAIN: dict[str, tuple[ProductType, ...]] = {
    d: tuple(t for t in PRODUCT_TYPES if t.domain == d) for d in DOMAINS
}

# --- brand syllables: brands are composed, e.g. "Vel" + "mora" -> "Velmora" --------------------------
BRAND_HEADS = ("vel zan kor ber lum nor tal fen qui sor mar dal ven ark bel cor dex fal gar hal "
               "jun kel lin mer nex orb pax ral sil tor ul vox wyn yar zel bri cal dra elo fro glo "
               "hex ion jol kav lux mob nim oak pyr rov sky tek uma vit wex xen yel zor aur bly "
               "cen dov eri fyn gly hav ivo jet kin lor ash bex cyr dun eko fiz gav hol isk jax kor "
               "lev mav nyx oro pel rix sav tev ulo vas wil yor zev ama bor cal dax emb fer gil "
               "hym ista jov kal lum mir nov opa pri qua rem sol tam vin wen").split()
BRAND_TAILS = ("mora ex ix ora ova ent ium ara ico iva ano elle ora tek line wave craft home gear "
               "lab fit nest ly io ar on us ia eon ova ix air pro max zen core works").split()

# --- review and opinion language --------------------------------------------------------------------
ASPECTS = ("build quality", "price", "comfort", "design", "battery life", "size", "finish",
           "packaging", "instructions", "customer service", "durability", "weight", "color",
           "performance", "noise level", "fit", "material", "setup")
POSITIVE_OPINIONS = ("is excellent", "exceeded my expectations", "feels premium", "is spot on",
                     "is better than I expected", "is really impressive", "works perfectly",
                     "is worth every penny", "holds up well", "is great for the money",
                     "is solid and well made", "made a real difference")
NEGATIVE_OPINIONS = ("is disappointing", "fell apart after a week", "feels cheap", "is way off",
                     "is worse than advertised", "stopped working quickly", "is a letdown",
                     "is not worth the money", "broke within a month", "is flimsy",
                     "was a complete waste", "is frustrating")
POSITIVE_VERDICTS = ("Highly recommended.", "Would buy again.", "Five stars from me.",
                     "I love it.", "Great purchase overall.", "It does exactly what it promises.")
NEGATIVE_VERDICTS = ("I returned it.", "Would not buy again.", "Save your money.",
                     "Not recommended.", "Very disappointed overall.", "Look elsewhere.")
REVIEWER_CONTEXTS = ("I bought this for my daughter", "I ordered this after reading several reviews",
                     "I have been using this for three weeks", "My old one finally died, so I picked this up",
                     "I got this as a gift for my husband", "I needed a replacement before a trip",
                     "I was skeptical at first", "After two months of daily use",
                     "I compared five options before choosing this one", "We use this every weekend")
FIRST_NAMES = ("Ana Ben Chloe Dev Elena Farid Grace Hiro Ines Jonah Kira Liam Maya Noah Olga Priya "
               "Quinn Rosa Sam Tara Umar Vera Wes Ximena Yusuf Zoe Marco Lena Omar Ivy Felix Nadia "
               "Theo Amara Jules Soren Leila Mateo Hana Rafael Aisha Connor Mei Tomas Sofia Arjun").split()
LAST_NAMES = ("Abbott Baker Castillo Dimitrov Ellis Ferreira Gupta Haddad Ito Jensen Kowalski Larsen "
              "Mendes Nakamura Okafor Petrov Quintero Rahman Silva Tanaka Ueda Varga Wallace Xu Yilmaz "
              "Zimmer Moreau Novak Brennan Fischer Alvarez Lindqvist Obi Sato Hughes Rossi Kaur Meyer").split()
