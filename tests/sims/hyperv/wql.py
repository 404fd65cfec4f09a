"""A WQL subset, parsed and evaluated the way WMI does for WS-Man's WQL filter dialect.

Supported:
    SELECT * | Prop[, Prop...] FROM Class [WHERE cond]
        cond: comparisons (=, !=, <>, <, >, <=, >=), LIKE with % _ and [set], IS [NOT] NULL,
              AND, OR, NOT, parentheses; 'single' or "double" quoted strings (backslash
              escapes), integers and decimals, TRUE, FALSE.
    ASSOCIATORS OF {Class.Key="v",Key2='v'} [WHERE AssocClass = A ResultClass = R
                                              ResultRole = X Role = Y]

As in WMI, keywords, class and property names are case-insensitive, and string comparison is
case-insensitive.  Anything else is a `WqlError`, which the server turns into
wsen:CannotProcessFilter (WMI's WBEM_E_INVALID_QUERY).
"""

import re

_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIKE", "IS", "NULL", "TRUE",
             "FALSE", "ASSOCIATORS", "OF"}


class WqlError(ValueError):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),*{}.])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)


def _unquote(s):
    body = s[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def tokenize(text):
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise WqlError("unexpected character %r at offset %d" % (text[pos], pos))
        pos = m.end()
        kind = m.lastgroup
        val = m.group()
        if kind == "ws":
            continue
        if kind == "str":
            out.append(("str", _unquote(val)))
        elif kind == "num":
            out.append(("num", float(val) if "." in val else int(val)))
        elif kind == "ident" and val.upper() in _KEYWORDS:
            out.append(("kw", val.upper()))
        else:
            out.append((kind, val))
    out.append(("eof", None))
    return out


class Select:
    def __init__(self, cls, props, where):
        self.cls = cls            # class name as written
        self.props = props        # None for *, else list of names
        self.where = where        # expression tree or None


class Associators:
    def __init__(self, src_cls, src_keys, assoc_class, result_class, result_role, role):
        self.src_cls = src_cls
        self.src_keys = src_keys  # {name: value}
        self.assoc_class = assoc_class
        self.result_class = result_class
        self.result_role = result_role
        self.role = role


class _Parser:
    def __init__(self, text):
        self.toks = tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def take(self, kind=None, val=None):
        t = self.toks[self.i]
        if kind and t[0] != kind or val is not None and t[1] != val:
            want = val if val is not None else kind
            raise WqlError("expected %s but found %s" % (want, t[1] if t[1] is not None else "end"))
        self.i += 1
        return t

    def at(self, kind, val=None):
        t = self.toks[self.i]
        return t[0] == kind and (val is None or t[1] == val)

    def query(self):
        if self.at("kw", "SELECT"):
            q = self.select()
        elif self.at("kw", "ASSOCIATORS"):
            q = self.associators()
        else:
            raise WqlError("a query starts with SELECT or ASSOCIATORS OF")
        self.take("eof")
        return q

    def select(self):
        self.take("kw", "SELECT")
        if self.at("punct", "*"):
            self.take()
            props = None
        else:
            props = [self.take("ident")[1]]
            while self.at("punct", ","):
                self.take()
                props.append(self.take("ident")[1])
        self.take("kw", "FROM")
        cls = self.take("ident")[1]
        where = None
        if self.at("kw", "WHERE"):
            self.take()
            where = self.expr()
        return Select(cls, props, where)

    def associators(self):
        self.take("kw", "ASSOCIATORS")
        self.take("kw", "OF")
        self.take("punct", "{")
        cls = self.take("ident")[1]
        keys = {}
        if self.at("punct", "."):
            self.take()
            while True:
                name = self.take("ident")[1]
                self.take("op", "=")
                t = self.take()
                if t[0] not in ("str", "num"):
                    raise WqlError("a key value must be a string or a number")
                keys[name] = str(t[1])
                if self.at("punct", ","):
                    self.take()
                    continue
                break
        self.take("punct", "}")
        opts = {}
        if self.at("kw", "WHERE"):
            self.take()
            while not self.at("eof"):
                name = self.take("ident")[1]
                lname = name.lower()
                if lname in ("classdefsonly", "schemaonly"):
                    raise WqlError("%s is not supported" % name)
                if lname not in ("assocclass", "resultclass", "resultrole", "role",
                                 "requiredqualifier", "requiredassocqualifier"):
                    raise WqlError("unknown ASSOCIATORS OF keyword %s" % name)
                self.take("op", "=")
                opts[lname] = self.take("ident")[1]
        return Associators(cls, keys, opts.get("assocclass"), opts.get("resultclass"),
                           opts.get("resultrole"), opts.get("role"))

    # expr := term (OR term)* ; term := factor (AND factor)* ; factor := NOT factor | (expr) | cmp
    def expr(self):
        node = self.term()
        while self.at("kw", "OR"):
            self.take()
            node = ("or", node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.at("kw", "AND"):
            self.take()
            node = ("and", node, self.factor())
        return node

    def factor(self):
        if self.at("kw", "NOT"):
            self.take()
            return ("not", self.factor())
        if self.at("punct", "("):
            self.take()
            node = self.expr()
            self.take("punct", ")")
            return node
        return self.comparison()

    def literal(self):
        t = self.take()
        if t[0] in ("str", "num"):
            return t[1]
        if t == ("kw", "TRUE"):
            return True
        if t == ("kw", "FALSE"):
            return False
        if t == ("kw", "NULL"):
            return None
        raise WqlError("expected a value but found %s" % (t[1] if t[1] is not None else "end"))

    def comparison(self):
        if self.at("ident"):
            prop = self.take()[1]
            if self.at("kw", "IS"):
                self.take()
                neg = False
                if self.at("kw", "NOT"):
                    self.take()
                    neg = True
                self.take("kw", "NULL")
                return ("isnull", prop, neg)
            if self.at("kw", "NOT"):
                self.take()
                self.take("kw", "LIKE")
                return ("not", ("like", prop, self.like_pattern()))
            if self.at("kw", "LIKE"):
                self.take()
                return ("like", prop, self.like_pattern())
            op = self.take("op")[1]
            return ("cmp", op, prop, self.literal())
        # value op property (WQL allows the literal first)
        val = self.literal()
        op = self.take("op")[1]
        prop = self.take("ident")[1]
        flip = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
        return ("cmp", flip.get(op, op), prop, val)

    def like_pattern(self):
        t = self.take("str")
        return t[1]


def parse(text):
    if not text or not text.strip():
        raise WqlError("the query is empty")
    return _Parser(text).query()


def like_to_regex(pattern):
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                raise WqlError("unterminated [ in LIKE pattern")
            inner = pattern[i + 1:j]
            neg = inner.startswith("^")
            if neg:
                inner = inner[1:]
            out.append("[" + ("^" if neg else "") + re.escape(inner).replace("\\-", "-") + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _coerce(inst_val, lit, ptype):
    """Bring a literal to the property's type; returns (a, b) comparable, or raises WqlError."""
    if ptype == "boolean":
        if isinstance(lit, bool):
            return inst_val, lit
        if isinstance(lit, (int, float)):
            return inst_val, bool(lit)
        if isinstance(lit, str) and lit.lower() in ("true", "false"):
            return inst_val, lit.lower() == "true"
        raise WqlError("type mismatch for a boolean property")
    if ptype in ("uint8", "uint16", "uint32", "uint64", "sint16", "sint32", "sint64", "real32",
                 "real64"):
        if isinstance(lit, bool):
            return inst_val, int(lit)
        if isinstance(lit, str):
            try:
                lit = float(lit) if "." in lit else int(lit)
            except ValueError:
                raise WqlError("type mismatch: %r is not a number" % lit)
        return inst_val, lit
    # strings, datetimes, references: compare as case-insensitive text
    a = inst_val if isinstance(inst_val, str) else str(inst_val)
    b = lit if isinstance(lit, str) else ("TRUE" if lit is True else "FALSE" if lit is False
                                          else str(lit))
    return a.lower(), b.lower()


def evaluate(node, instance, schema):
    """True if `instance` (dict) matches `node`.  `schema` maps lower-case property names to
    (canonical name, cim type, is_array)."""
    kind = node[0]
    if kind == "and":
        return evaluate(node[1], instance, schema) and evaluate(node[2], instance, schema)
    if kind == "or":
        return evaluate(node[1], instance, schema) or evaluate(node[2], instance, schema)
    if kind == "not":
        return not evaluate(node[1], instance, schema)
    prop = node[1] if kind in ("isnull", "like") else node[2]
    info = schema.get(prop.lower())
    if info is None:
        raise WqlError("no property %s in this class" % prop)
    name, ptype, is_array = info
    if is_array:
        raise WqlError("array property %s cannot be compared" % name)
    val = instance.get(name)
    if kind == "isnull":
        return (val is None) != node[2]
    if val is None:
        return False
    if kind == "like":
        return bool(like_to_regex(node[2]).fullmatch(str(val)))
    op, lit = node[1], node[3]
    if lit is None:
        return False
    a, b = _coerce(val, lit, ptype)
    try:
        return {"=": a == b, "!=": a != b, "<>": a != b, "<": a < b, ">": a > b,
                "<=": a <= b, ">=": a >= b}[op]
    except TypeError:
        raise WqlError("values cannot be compared")


def validate(node, schema):
    """Raise WqlError for unknown properties without needing an instance."""
    if node is None:
        return
    kind = node[0]
    if kind in ("and", "or"):
        validate(node[1], schema)
        validate(node[2], schema)
    elif kind == "not":
        validate(node[1], schema)
    else:
        prop = node[1] if kind in ("isnull", "like") else node[2]
        if prop.lower() not in schema:
            raise WqlError("no property %s in this class" % prop)
