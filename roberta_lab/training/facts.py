"""Project-authored knowledge tables used to build the training corpus and probes.

Everything here was written for this project from general knowledge. Facts
themselves (which city is a capital, which word is plural) are not
copyrightable; the selection and layout are the project's own and fall under
the project's licence.

Contents: countries and capitals, a subject-verb agreement lexicon, ordered
sequences (weekdays, months, numbers, ordinals) and category membership lists.
Names are plain ASCII everyday English ("Bogota", not "Bogotá") so that answer
strings are easy to type and to compare byte-for-byte.
"""

# (country name, article, capital, note). The 193 UN member states plus
# Vatican City and Palestine (UN observer states), i.e. 195 entries.
# The article is "the" where everyday English uses one ("the United States").
# Where a country has several capitals we pick one canonical city and say so.
COUNTRIES = [
    ("Afghanistan", "", "Kabul", ""),
    ("Albania", "", "Tirana", ""),
    ("Algeria", "", "Algiers", ""),
    ("Andorra", "", "Andorra la Vella", ""),
    ("Angola", "", "Luanda", ""),
    ("Antigua and Barbuda", "", "Saint John's", ""),
    ("Argentina", "", "Buenos Aires", ""),
    ("Armenia", "", "Yerevan", ""),
    ("Australia", "", "Canberra", ""),
    ("Austria", "", "Vienna", ""),
    ("Azerbaijan", "", "Baku", ""),
    ("Bahamas", "the", "Nassau", ""),
    ("Bahrain", "", "Manama", ""),
    ("Bangladesh", "", "Dhaka", ""),
    ("Barbados", "", "Bridgetown", ""),
    ("Belarus", "", "Minsk", ""),
    ("Belgium", "", "Brussels", ""),
    ("Belize", "", "Belmopan", ""),
    ("Benin", "", "Porto-Novo", "official capital; Cotonou is the seat of government"),
    ("Bhutan", "", "Thimphu", ""),
    ("Bolivia", "", "Sucre", "constitutional capital; La Paz is the seat of government"),
    ("Bosnia and Herzegovina", "", "Sarajevo", ""),
    ("Botswana", "", "Gaborone", ""),
    ("Brazil", "", "Brasilia", ""),
    ("Brunei", "", "Bandar Seri Begawan", ""),
    ("Bulgaria", "", "Sofia", ""),
    ("Burkina Faso", "", "Ouagadougou", ""),
    ("Burundi", "", "Gitega", "capital since 2019; Bujumbura is the largest city"),
    ("Cambodia", "", "Phnom Penh", ""),
    ("Cameroon", "", "Yaounde", ""),
    ("Canada", "", "Ottawa", ""),
    ("Cape Verde", "", "Praia", ""),
    ("Central African Republic", "the", "Bangui", ""),
    ("Chad", "", "N'Djamena", ""),
    ("Chile", "", "Santiago", ""),
    ("China", "", "Beijing", ""),
    ("Colombia", "", "Bogota", ""),
    ("Comoros", "", "Moroni", ""),
    ("Republic of the Congo", "the", "Brazzaville", ""),
    ("Democratic Republic of the Congo", "the", "Kinshasa", ""),
    ("Costa Rica", "", "San Jose", ""),
    ("Ivory Coast", "", "Yamoussoukro", "official capital; Abidjan is the economic centre"),
    ("Croatia", "", "Zagreb", ""),
    ("Cuba", "", "Havana", ""),
    ("Cyprus", "", "Nicosia", ""),
    ("Czech Republic", "the", "Prague", ""),
    ("Denmark", "", "Copenhagen", ""),
    ("Djibouti", "", "Djibouti City", ""),
    ("Dominica", "", "Roseau", ""),
    ("Dominican Republic", "the", "Santo Domingo", ""),
    ("East Timor", "", "Dili", ""),
    ("Ecuador", "", "Quito", ""),
    ("Egypt", "", "Cairo", ""),
    ("El Salvador", "", "San Salvador", ""),
    ("Equatorial Guinea", "", "Malabo", ""),
    ("Eritrea", "", "Asmara", ""),
    ("Estonia", "", "Tallinn", ""),
    ("Eswatini", "", "Mbabane", "administrative capital; Lobamba is the royal and legislative capital"),
    ("Ethiopia", "", "Addis Ababa", ""),
    ("Fiji", "", "Suva", ""),
    ("Finland", "", "Helsinki", ""),
    ("France", "", "Paris", ""),
    ("Gabon", "", "Libreville", ""),
    ("Gambia", "the", "Banjul", ""),
    ("Georgia", "", "Tbilisi", ""),
    ("Germany", "", "Berlin", ""),
    ("Ghana", "", "Accra", ""),
    ("Greece", "", "Athens", ""),
    ("Grenada", "", "Saint George's", ""),
    ("Guatemala", "", "Guatemala City", ""),
    ("Guinea", "", "Conakry", ""),
    ("Guinea-Bissau", "", "Bissau", ""),
    ("Guyana", "", "Georgetown", ""),
    ("Haiti", "", "Port-au-Prince", ""),
    ("Honduras", "", "Tegucigalpa", ""),
    ("Hungary", "", "Budapest", ""),
    ("Iceland", "", "Reykjavik", ""),
    ("India", "", "New Delhi", ""),
    ("Indonesia", "", "Jakarta", ""),
    ("Iran", "", "Tehran", ""),
    ("Iraq", "", "Baghdad", ""),
    ("Ireland", "", "Dublin", ""),
    ("Israel", "", "Jerusalem", "proclaimed capital; its international status is disputed"),
    ("Italy", "", "Rome", ""),
    ("Jamaica", "", "Kingston", ""),
    ("Japan", "", "Tokyo", ""),
    ("Jordan", "", "Amman", ""),
    ("Kazakhstan", "", "Astana", ""),
    ("Kenya", "", "Nairobi", ""),
    ("Kiribati", "", "Tarawa", "South Tarawa"),
    ("Kuwait", "", "Kuwait City", ""),
    ("Kyrgyzstan", "", "Bishkek", ""),
    ("Laos", "", "Vientiane", ""),
    ("Latvia", "", "Riga", ""),
    ("Lebanon", "", "Beirut", ""),
    ("Lesotho", "", "Maseru", ""),
    ("Liberia", "", "Monrovia", ""),
    ("Libya", "", "Tripoli", ""),
    ("Liechtenstein", "", "Vaduz", ""),
    ("Lithuania", "", "Vilnius", ""),
    ("Luxembourg", "", "Luxembourg City", ""),
    ("Madagascar", "", "Antananarivo", ""),
    ("Malawi", "", "Lilongwe", ""),
    ("Malaysia", "", "Kuala Lumpur", "official capital; Putrajaya is the administrative centre"),
    ("Maldives", "the", "Male", ""),
    ("Mali", "", "Bamako", ""),
    ("Malta", "", "Valletta", ""),
    ("Marshall Islands", "the", "Majuro", ""),
    ("Mauritania", "", "Nouakchott", ""),
    ("Mauritius", "", "Port Louis", ""),
    ("Mexico", "", "Mexico City", ""),
    ("Micronesia", "", "Palikir", ""),
    ("Moldova", "", "Chisinau", ""),
    ("Monaco", "", "Monaco", "city-state"),
    ("Mongolia", "", "Ulaanbaatar", ""),
    ("Montenegro", "", "Podgorica", ""),
    ("Morocco", "", "Rabat", ""),
    ("Mozambique", "", "Maputo", ""),
    ("Myanmar", "", "Naypyidaw", ""),
    ("Namibia", "", "Windhoek", ""),
    ("Nauru", "", "Yaren", "no official capital; government offices are in Yaren"),
    ("Nepal", "", "Kathmandu", ""),
    ("Netherlands", "the", "Amsterdam", "constitutional capital; The Hague is the seat of government"),
    ("New Zealand", "", "Wellington", ""),
    ("Nicaragua", "", "Managua", ""),
    ("Niger", "", "Niamey", ""),
    ("Nigeria", "", "Abuja", ""),
    ("North Korea", "", "Pyongyang", ""),
    ("North Macedonia", "", "Skopje", ""),
    ("Norway", "", "Oslo", ""),
    ("Oman", "", "Muscat", ""),
    ("Pakistan", "", "Islamabad", ""),
    ("Palau", "", "Ngerulmud", ""),
    ("Palestine", "", "Ramallah", "administrative seat; Palestine claims East Jerusalem as its capital"),
    ("Panama", "", "Panama City", ""),
    ("Papua New Guinea", "", "Port Moresby", ""),
    ("Paraguay", "", "Asuncion", ""),
    ("Peru", "", "Lima", ""),
    ("Philippines", "the", "Manila", ""),
    ("Poland", "", "Warsaw", ""),
    ("Portugal", "", "Lisbon", ""),
    ("Qatar", "", "Doha", ""),
    ("Romania", "", "Bucharest", ""),
    ("Russia", "", "Moscow", ""),
    ("Rwanda", "", "Kigali", ""),
    ("Saint Kitts and Nevis", "", "Basseterre", ""),
    ("Saint Lucia", "", "Castries", ""),
    ("Saint Vincent and the Grenadines", "", "Kingstown", ""),
    ("Samoa", "", "Apia", ""),
    ("San Marino", "", "San Marino", "city-state"),
    ("Sao Tome and Principe", "", "Sao Tome", ""),
    ("Saudi Arabia", "", "Riyadh", ""),
    ("Senegal", "", "Dakar", ""),
    ("Serbia", "", "Belgrade", ""),
    ("Seychelles", "", "Victoria", ""),
    ("Sierra Leone", "", "Freetown", ""),
    ("Singapore", "", "Singapore", "city-state"),
    ("Slovakia", "", "Bratislava", ""),
    ("Slovenia", "", "Ljubljana", ""),
    ("Solomon Islands", "the", "Honiara", ""),
    ("Somalia", "", "Mogadishu", ""),
    ("South Africa", "", "Pretoria", "executive capital; Cape Town is legislative, Bloemfontein judicial"),
    ("South Korea", "", "Seoul", ""),
    ("South Sudan", "", "Juba", ""),
    ("Spain", "", "Madrid", ""),
    ("Sri Lanka", "", "Colombo", "executive capital; Sri Jayawardenepura Kotte is the legislative capital"),
    ("Sudan", "", "Khartoum", ""),
    ("Suriname", "", "Paramaribo", ""),
    ("Sweden", "", "Stockholm", ""),
    ("Switzerland", "", "Bern", "federal city; Switzerland has no de jure capital"),
    ("Syria", "", "Damascus", ""),
    ("Tajikistan", "", "Dushanbe", ""),
    ("Tanzania", "", "Dodoma", "official capital; Dar es Salaam is the largest city"),
    ("Thailand", "", "Bangkok", ""),
    ("Togo", "", "Lome", ""),
    ("Tonga", "", "Nuku'alofa", ""),
    ("Trinidad and Tobago", "", "Port of Spain", ""),
    ("Tunisia", "", "Tunis", ""),
    ("Turkey", "", "Ankara", ""),
    ("Turkmenistan", "", "Ashgabat", ""),
    ("Tuvalu", "", "Funafuti", ""),
    ("Uganda", "", "Kampala", ""),
    ("Ukraine", "", "Kyiv", ""),
    ("United Arab Emirates", "the", "Abu Dhabi", ""),
    ("United Kingdom", "the", "London", ""),
    ("United States", "the", "Washington", "Washington, D.C."),
    ("Uruguay", "", "Montevideo", ""),
    ("Uzbekistan", "", "Tashkent", ""),
    ("Vanuatu", "", "Port Vila", ""),
    ("Vatican City", "", "Vatican City", "city-state; UN observer, not a member"),
    ("Venezuela", "", "Caracas", ""),
    ("Vietnam", "", "Hanoi", ""),
    ("Yemen", "", "Sanaa", ""),
    ("Zambia", "", "Lusaka", ""),
    ("Zimbabwe", "", "Harare", ""),
]

# --- Subject-verb agreement lexicon ----------------------------------------
# Animate and inanimate nouns are kept apart so predicates stay plausible.
ANIMATE_NOUNS = [
    ("dog", "dogs"), ("cat", "cats"), ("child", "children"), ("man", "men"),
    ("woman", "women"), ("teacher", "teachers"), ("student", "students"),
    ("doctor", "doctors"), ("farmer", "farmers"), ("baby", "babies"),
    ("girl", "girls"), ("boy", "boys"), ("friend", "friends"),
    ("neighbor", "neighbors"), ("painter", "painters"), ("singer", "singers"),
    ("driver", "drivers"), ("author", "authors"), ("player", "players"),
    ("soldier", "soldiers"), ("horse", "horses"), ("bird", "birds"),
    ("mouse", "mice"), ("goose", "geese"), ("wolf", "wolves"),
    ("person", "people"), ("nurse", "nurses"), ("pilot", "pilots"),
    ("cook", "cooks"), ("lawyer", "lawyers"), ("sister", "sisters"),
    ("brother", "brothers"), ("king", "kings"), ("queen", "queens"),
]
INANIMATE_NOUNS = [
    ("key", "keys"), ("book", "books"), ("house", "houses"), ("car", "cars"),
    ("box", "boxes"), ("table", "tables"), ("chair", "chairs"),
    ("window", "windows"), ("door", "doors"), ("picture", "pictures"),
    ("letter", "letters"), ("bottle", "bottles"), ("cup", "cups"),
    ("lamp", "lamps"), ("clock", "clocks"), ("tree", "trees"),
    ("road", "roads"), ("bridge", "bridges"), ("city", "cities"),
    ("village", "villages"), ("garden", "gardens"), ("school", "schools"),
    ("shop", "shops"), ("bag", "bags"), ("shoe", "shoes"), ("toy", "toys"),
    ("knife", "knives"), ("leaf", "leaves"), ("story", "stories"),
    ("song", "songs"), ("computer", "computers"), ("phone", "phones"),
    ("plate", "plates"), ("cake", "cakes"), ("cabinet", "cabinets"),
    ("painting", "paintings"),
]
NOUN_PAIRS = ANIMATE_NOUNS + INANIMATE_NOUNS  # 70 singular/plural pairs

# The agreeing verbs probed by the masked-LM probes (singular, plural).
AGREE_VERBS = {"be": ("is", "are"), "be_past": ("was", "were"), "have": ("has", "have")}
# Regular present-tense intransitive verbs for animate subjects.
REGULAR_VERBS = [
    ("runs", "run"), ("sleeps", "sleep"), ("sings", "sing"), ("walks", "walk"),
    ("smiles", "smile"), ("waits", "wait"), ("laughs", "laugh"),
    ("works", "work"), ("plays", "play"), ("swims", "swim"),
    ("jumps", "jump"), ("talks", "talk"),
]
# Transitive verbs used inside relative clauses ("that the children like").
TRANSITIVE_VERBS = [
    ("likes", "like"), ("sees", "see"), ("knows", "know"), ("helps", "help"),
    ("watches", "watch"), ("follows", "follow"), ("finds", "find"),
    ("wants", "want"), ("visits", "visit"), ("loves", "love"),
    ("remembers", "remember"), ("admires", "admire"),
]
# Prepositions that introduce an attractor noun ("the keys to the cabinet").
ATTRACTOR_PREPS = ["to", "near", "by", "of", "behind", "next to",
                   "in front of", "with", "from", "beside", "under", "for"]
# Relative-clause fillers: {R} inner subject, {rv} its verb, {O} object.
RELATIVE_FILLERS = ["that the {R} {rv}", "that {rv} the {O}", "who the {R} {rv}",
                    "which the {R} {rv}"]
ANIMATE_PREDICATES = ["friendly", "happy", "tired", "here", "late", "busy",
                      "tall", "kind", "quiet", "hungry", "in the garden",
                      "at home", "very clever", "ready"]
INANIMATE_PREDICATES = ["old", "new", "here", "small", "heavy", "ready",
                        "clean", "red", "cheap", "broken", "on the table",
                        "in the kitchen", "very useful", "expensive"]
ANIMATE_OBJECTS = ["a big family", "a new car", "many friends", "a good idea",
                   "a small garden", "a long name"]
INANIMATE_OBJECTS = ["a broken handle", "a long history", "a red door",
                     "a few scratches", "a strange smell", "a blue label"]

# --- Ordered sequences --------------------------------------------------
# Weekdays start on Monday (the ISO 8601 convention); note this in teaching.
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
            "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]
NUMBERS = ("one two three four five six seven eight nine ten eleven twelve "
           "thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
           "twenty").split()
ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth "
            "eleventh twelfth thirteenth fourteenth fifteenth sixteenth "
            "seventeenth eighteenth nineteenth twentieth").split()
# name -> (items, unit noun, whole it belongs to, wraps around?)
SEQUENCES = {
    "weekday": (WEEKDAYS, "day", "week", True),
    "month": (MONTHS, "month", "year", True),
    "number": (NUMBERS, "number", "count", False),
    "ordinal": (ORDINALS, "position", "line", False),
}

# --- Category membership ------------------------------------------------
# Members are single common words that belong to exactly one category here
# (no "tomato" or "bass"), so each category probe has one right answer.
# category -> (kind noun used in "a kind of X", plural predicate, members)
CATEGORIES = {
    "animal": ("animal", "animals", "dog cat horse cow pig sheep goat lion tiger bear wolf fox rabbit mouse elephant giraffe zebra monkey deer camel kangaroo squirrel"),
    "bird": ("bird", "birds", "robin sparrow eagle owl crow pigeon parrot swan duck goose hawk penguin ostrich flamingo peacock seagull pelican woodpecker raven heron"),
    "fish": ("fish", "fish", "salmon trout tuna cod shark carp herring sardine mackerel goldfish catfish eel pike haddock halibut perch anchovy minnow"),
    "tree": ("tree", "trees", "oak maple pine birch willow elm ash beech cedar spruce fir palm cypress poplar sycamore chestnut redwood larch yew"),
    "flower": ("flower", "flowers", "rose tulip daisy lily orchid sunflower daffodil carnation poppy iris marigold dandelion peony lotus crocus buttercup geranium hyacinth"),
    "fruit": ("fruit", "fruit", "apple banana orange pear grape cherry peach plum lemon mango pineapple strawberry watermelon kiwi apricot raspberry blueberry melon fig coconut"),
    "vegetable": ("vegetable", "vegetables", "carrot potato onion cabbage cucumber pea bean radish turnip beet cauliflower leek parsnip eggplant artichoke yam lettuce"),
    "tool": ("tool", "tools", "hammer saw screwdriver wrench drill chisel shovel rake axe spade trowel hoe crowbar mallet sledgehammer pickaxe clamp awl"),
    "vehicle": ("vehicle", "vehicles", "car bus truck bicycle motorcycle train tram van taxi tractor scooter ambulance lorry jeep limousine minibus wagon carriage"),
    "instrument": ("instrument", "instruments", "piano guitar violin drum flute trumpet cello harp clarinet saxophone trombone banjo accordion oboe harmonica tuba ukulele xylophone"),
    "clothing": ("clothing", "clothing", "shirt coat hat sock glove scarf dress skirt jacket sweater boot shoe belt blouse cap sandal vest cardigan"),
    "furniture": ("furniture", "furniture", "chair table sofa bed desk bench stool shelf cabinet dresser wardrobe couch bookcase cupboard armchair ottoman crib footstool"),
}
CATEGORY_MEMBERS = {k: v[2].split() for k, v in CATEGORIES.items()}

# Irregular plurals for category members; everything else follows rules.
IRREGULAR_PLURALS = {
    "sheep": "sheep", "deer": "deer", "mouse": "mice", "wolf": "wolves",
    "goose": "geese", "salmon": "salmon", "trout": "trout", "cod": "cod",
    "carp": "carp", "pike": "pike", "haddock": "haddock", "halibut": "halibut",
    "perch": "perch", "tuna": "tuna", "scarf": "scarves", "shelf": "shelves",
    "knife": "knives", "leaf": "leaves", "fish": "fish",
}
# Words starting with a vowel letter but a consonant sound take "a".
A_NOT_AN = {"ukulele", "unicorn", "uniform"}
