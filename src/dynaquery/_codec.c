/* The hot paths of dynaquery.values in C: typed <-> plain AttributeValues, and typed items
 * written straight to JSON text.
 *
 * Every function here is an accelerator of a Python function in values.py with the same
 * results; whenever a value is anything but the regular case, it hands that value to the Python
 * function (which raises the same errors, or reports the same problems). values.py uses the pure
 * Python code when this module is not built, or when DYNAQUERY_PURE_PYTHON is set.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static PyObject *DecimalType;      /* decimal.Decimal */
static PyObject *py_to_plain;      /* values._py_to_plain(av) */
static PyObject *py_number;        /* values._py_number(text) */
static PyObject *py_item_json;     /* values._py_item_json(item) -> str */
static PyObject *py_b64decode;     /* values._strict_b64decode(text) -> bytes, raises */
static PyObject *py_typed_json;    /* values._py_typed_json(av) -> str */

static PyObject *s_S, *s_N, *s_B, *s_SS, *s_NS, *s_BS, *s_M, *s_L, *s_NULL, *s_BOOL;

static int
is_tag(PyObject *key)
{
    return key == s_S || key == s_N || key == s_B || key == s_SS || key == s_NS || key == s_BS
        || key == s_M || key == s_L || key == s_NULL || key == s_BOOL;
}

/* The tag of a one-key dict, interned (so it can be compared by identity), or NULL. */
static PyObject *
tag_of(PyObject *key)
{
    if (!PyUnicode_CheckExact(key))
        return NULL;
    if (is_tag(key))
        return key;
    Py_ssize_t n = PyUnicode_GET_LENGTH(key);
    if (n < 1 || n > 4 || !PyUnicode_IS_ASCII(key))
        return NULL;
    const char *c = (const char *)PyUnicode_DATA(key);
    switch (n) {
    case 1:
        if (c[0] == 'S') return s_S;
        if (c[0] == 'N') return s_N;
        if (c[0] == 'B') return s_B;
        if (c[0] == 'M') return s_M;
        if (c[0] == 'L') return s_L;
        return NULL;
    case 2:
        if (c[1] != 'S') return NULL;
        if (c[0] == 'S') return s_SS;
        if (c[0] == 'N') return s_NS;
        if (c[0] == 'B') return s_BS;
        return NULL;
    case 4:
        if (memcmp(c, "NULL", 4) == 0) return s_NULL;
        if (memcmp(c, "BOOL", 4) == 0) return s_BOOL;
        return NULL;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* numbers */

/* -?[0-9]+ in ASCII */
static int
ascii_integer(const char *c, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    if (n && c[0] == '-')
        i = 1;
    if (i == n)
        return 0;
    for (; i < n; i++)
        if (c[i] < '0' || c[i] > '9')
            return 0;
    return 1;
}

/* Decimal(text), calling the type's constructor directly (no generic call machinery). */
static PyObject *
new_decimal(PyObject *text)
{
    PyTypeObject *type = (PyTypeObject *)DecimalType;
    PyObject *args = PyTuple_Pack(1, text);
    if (args == NULL)
        return NULL;
    PyObject *d = type->tp_new(type, args, NULL);
    Py_DECREF(args);
    return d;
}

/* A DynamoDB number as int (integral digits) or Decimal: values.number. */
static PyObject *
number(PyObject *text)
{
    if (PyUnicode_CheckExact(text) && PyUnicode_IS_ASCII(text)) {
        const char *c = (const char *)PyUnicode_DATA(text);
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        if (ascii_integer(c, n)) {
            if (n <= 18) {  /* fits a long long: no need for the general parser */
                long long x = 0;
                for (Py_ssize_t i = c[0] == '-'; i < n; i++)
                    x = x * 10 + (c[i] - '0');
                return PyLong_FromLongLong(c[0] == '-' ? -x : x);
            }
            if (n < 4000)
                return PyLong_FromString(c, NULL, 10);
        }
        else if (n > 0) {
            PyObject *d = new_decimal(text);
            if (d != NULL || !PyErr_ExceptionMatches(PyExc_ArithmeticError))
                return d;
            PyErr_Clear();  /* not a number: values.number says so */
        }
    }
    return PyObject_CallOneArg(py_number, text);
}

/* [+-]?(digits[.digits?]|.digits)([eE][+-]?digits)? with no blanks: text Decimal reads as a
 * finite number, and that str.strip() leaves as it is. */
static int
plain_number_text(PyObject *text)
{
    if (!PyUnicode_IS_ASCII(text))
        return 0;
    const char *c = (const char *)PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0, digits = 0;
    if (i < n && (c[i] == '+' || c[i] == '-'))
        i++;
    while (i < n && c[i] >= '0' && c[i] <= '9') { i++; digits++; }
    if (i < n && c[i] == '.') {
        i++;
        while (i < n && c[i] >= '0' && c[i] <= '9') { i++; digits++; }
    }
    if (!digits)
        return 0;
    if (i < n && (c[i] == 'e' || c[i] == 'E')) {
        i++;
        if (i < n && (c[i] == '+' || c[i] == '-'))
            i++;
        Py_ssize_t exp = 0;
        while (i < n && c[i] >= '0' && c[i] <= '9') { i++; exp++; }
        if (!exp)
            return 0;
    }
    return i == n;
}

/* values._number_text for the regular cases; NULL with no error set means "not regular". */
static PyObject *
number_text(PyObject *v)
{
    if (PyBool_Check(v))
        return NULL;
    if (PyLong_CheckExact(v))
        return PyObject_Str(v);
    if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        if (!isfinite(d))
            return NULL;
        return PyObject_Repr(v);
    }
    if (PyUnicode_CheckExact(v)) {
        if (!plain_number_text(v))
            return NULL;
        Py_INCREF(v);
        return v;
    }
    if (Py_IS_TYPE(v, (PyTypeObject *)DecimalType)) {
        PyObject *s = PyObject_Str(v);
        if (s == NULL)
            return NULL;
        /* NaN, sNaN, Infinity (signed or not) are no numbers DynamoDB stores */
        Py_UCS4 first = PyUnicode_READ_CHAR(s, 0);
        if (first == '-' && PyUnicode_GET_LENGTH(s) > 1)
            first = PyUnicode_READ_CHAR(s, 1);
        if (first == 'N' || first == 's' || first == 'I') {
            Py_DECREF(s);
            return NULL;
        }
        return s;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static PyObject *
b64encode(PyObject *value)
{
    Py_buffer view;
    if (PyObject_GetBuffer(value, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *in = view.buf;
    Py_ssize_t n = view.len, out_len = 4 * ((n + 2) / 3), i, o = 0;
    PyObject *result = PyUnicode_New(out_len, 127);
    if (result == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    char *out = (char *)PyUnicode_DATA(result);
    for (i = 0; i + 2 < n; i += 3) {
        out[o++] = B64[in[i] >> 2];
        out[o++] = B64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        out[o++] = B64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        out[o++] = B64[in[i + 2] & 63];
    }
    if (i < n) {
        out[o++] = B64[in[i] >> 2];
        if (i + 1 < n) {
            out[o++] = B64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
            out[o++] = B64[(in[i + 1] & 15) << 2];
        } else {
            out[o++] = B64[(in[i] & 3) << 4];
            out[o++] = '=';
        }
        out[o++] = '=';
    }
    PyBuffer_Release(&view);
    return result;
}

/* B as botocore parses it (bytes) becomes base64 text; as it comes on the wire (text), it is. */
static PyObject *
plain_binary(PyObject *v)
{
    if (PyBytes_CheckExact(v) || PyByteArray_CheckExact(v))
        return b64encode(v);
    if (PyUnicode_CheckExact(v)) {
        Py_INCREF(v);
        return v;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* typed -> plain */

static PyObject *to_plain(PyObject *av);

static PyObject *
fallback_plain(PyObject *av)
{
    return PyObject_CallOneArg(py_to_plain, av);
}

/* A dict sized for n keys from the start (no resizing while it fills), where the API has it. */
static PyObject *
new_dict(Py_ssize_t n)
{
#if PY_VERSION_HEX < 0x030D0000
    return _PyDict_NewPresized(n);
#else
    return PyDict_New();
#endif
}

/* A new dict with f(value) for each value of a dict (NULL when f gives NULL). */
static PyObject *
map_values(PyObject *map, PyObject *(*f)(PyObject *))
{
    PyObject *out = new_dict(PyDict_GET_SIZE(map));
    if (out == NULL)
        return NULL;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(map, &pos, &k, &v)) {
        PyObject *p = f(v);
        if (p == NULL || PyDict_SetItem(out, k, p) < 0) {
            Py_XDECREF(p);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(p);
    }
    return out;
}

/* A new list with f(element) for each element of a list (NULL when f gives NULL). */
static PyObject *
list_map(PyObject *list, PyObject *(*f)(PyObject *))
{
    Py_ssize_t n = PyList_GET_SIZE(list);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = f(PyList_GET_ITEM(list, i));
        if (p == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, p);
    }
    return out;
}

static PyObject *
binary_or_fallback(PyObject *v)
{
    PyObject *p = plain_binary(v);
    if (p == NULL && !PyErr_Occurred()) {
        PyObject *av = Py_BuildValue("{OO}", s_B, v);
        if (av == NULL)
            return NULL;
        p = fallback_plain(av);
        Py_DECREF(av);
    }
    return p;
}

static PyObject *
to_plain_unguarded(PyObject *av)
{
    if (!PyDict_CheckExact(av) || PyDict_GET_SIZE(av) != 1)
        return fallback_plain(av);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    PyDict_Next(av, &pos, &key, &value);
    PyObject *tag = tag_of(key);
    if (tag == s_S || tag == s_BOOL) {
        Py_INCREF(value);
        return value;
    }
    if (tag == s_N)
        return number(value);
    if (tag == s_M && PyDict_CheckExact(value))
        return map_values(value, to_plain);
    if (tag == s_L && PyList_CheckExact(value))
        return list_map(value, to_plain);
    if (tag == s_NULL)
        Py_RETURN_NONE;
    if (tag == s_SS && PyList_CheckExact(value))
        return PyList_GetSlice(value, 0, PyList_GET_SIZE(value));
    if (tag == s_NS && PyList_CheckExact(value))
        return list_map(value, number);
    if (tag == s_B) {
        PyObject *p = plain_binary(value);
        if (p != NULL || PyErr_Occurred())
            return p;
    }
    if (tag == s_BS && PyList_CheckExact(value))
        return list_map(value, binary_or_fallback);
    return fallback_plain(av);
}

/* Deep nesting raises RecursionError instead of overflowing the C stack. */
static PyObject *
to_plain(PyObject *av)
{
    if (Py_EnterRecursiveCall(" while converting a nested value"))
        return NULL;
    PyObject * r = to_plain_unguarded(av);
    Py_LeaveRecursiveCall();
    return r;
}

static PyObject *
c_to_plain(PyObject *self, PyObject *av)
{
    return to_plain(av);
}

static PyObject *
c_item_to_plain(PyObject *self, PyObject *item)
{
    if (!PyDict_Check(item)) {
        PyErr_Format(PyExc_TypeError, "an item is an object, not %.100s", Py_TYPE(item)->tp_name);
        return NULL;
    }
    return map_values(item, to_plain);
}

/* Many items: the cyclic garbage collector is paused meanwhile (what is built here holds no
 * cycles, and a page of items would otherwise set it off every few dozen items). */
static PyObject *
c_items_to_plain(PyObject *self, PyObject *items)
{
    PyObject *list = PySequence_List(items);
    if (list == NULL)
        return NULL;
    int was_enabled = PyGC_Disable();
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        PyObject *p = c_item_to_plain(NULL, item);
        if (p == NULL) {
            if (was_enabled)
                PyGC_Enable();
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, p);
        Py_DECREF(item);
    }
    if (was_enabled)
        PyGC_Enable();
    return list;
}

/* ------------------------------------------------------------------------------------------ */
/* plain or typed -> typed (the regular cases; NULL with no error: let Python do it) */

static PyObject *fast_typed(PyObject *v);

static PyObject *
one(PyObject *tag, PyObject *inner)  /* steals inner */
{
    if (inner == NULL)
        return NULL;
    PyObject *out = PyDict_New();
    if (out == NULL || PyDict_SetItem(out, tag, inner) < 0) {
        Py_XDECREF(out);
        Py_DECREF(inner);
        return NULL;
    }
    Py_DECREF(inner);
    return out;
}

/* Binary as DynamoDB takes it: bytes, a bytearray, or base64 text decoded; NULL with no error
 * when it is none of these. */
static PyObject *
binary_value(PyObject *v)
{
    if (PyBytes_CheckExact(v))
        return Py_NewRef(v);
    if (PyByteArray_Check(v))
        return PyBytes_FromObject(v);
    if (PyUnicode_Check(v)) {
        PyObject *b = PyObject_CallOneArg(py_b64decode, v);
        if (b == NULL)
            PyErr_Clear();
        return b;
    }
    return NULL;
}

static PyObject *
tagged(PyObject *tag, PyObject *value)
{
    PyObject *inner = NULL;
    if (tag == s_S) {
        if (!PyUnicode_Check(value))
            return NULL;
        Py_INCREF(value);
        inner = value;
    }
    else if (tag == s_N) {
        inner = number_text(value);
    }
    else if (tag == s_BOOL) {
        if (!PyBool_Check(value))
            return NULL;
        Py_INCREF(value);
        inner = value;
    }
    else if (tag == s_NULL) {
        if (value != Py_True)
            return NULL;
        Py_INCREF(Py_True);
        inner = Py_True;
    }
    else if (tag == s_B) {
        inner = binary_value(value);
    }
    else if (tag == s_L) {
        if (!PyList_Check(value))
            return NULL;
        inner = list_map(value, fast_typed);
    }
    else if (tag == s_M) {
        if (!PyDict_Check(value))
            return NULL;
        inner = map_values(value, fast_typed);
    }
    else {  /* SS, NS, BS: a list, tuple or set of strings, numbers, binary */
        if (!(PyList_Check(value) || PyTuple_Check(value) || PyAnySet_Check(value)))
            return NULL;
        PyObject *seq = PySequence_List(value);
        if (seq == NULL)
            return NULL;
        Py_ssize_t n = PyList_GET_SIZE(seq);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *e = PyList_GET_ITEM(seq, i), *t;
            if (tag == s_SS) {
                if (!PyUnicode_Check(e)) {
                    Py_DECREF(seq);
                    return NULL;
                }
                continue;
            }
            t = tag == s_NS ? number_text(e) : binary_value(e);
            if (t == NULL) {
                Py_DECREF(seq);
                return NULL;
            }
            PyList_SET_ITEM(seq, i, t);
            Py_DECREF(e);
        }
        inner = seq;
    }
    return one(tag, inner);
}

static int
all_of(PyObject *list, int (*check)(PyObject *))
{
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!check(PyList_GET_ITEM(list, i)))
            return 0;
    return 1;
}

static int is_str(PyObject *v) { return PyUnicode_Check(v); }
static int is_bin(PyObject *v) { return PyBytes_Check(v) || PyByteArray_Check(v); }

static PyObject *
typed_set(PyObject *value)
{
    PyObject *list = PySequence_List(value);
    if (list == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (all_of(list, is_str)) {
        if (PyList_Sort(list) < 0) {
            Py_DECREF(list);
            return NULL;
        }
        return one(s_SS, list);
    }
    if (all_of(list, is_bin)) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *e = PyList_GET_ITEM(list, i);
            PyObject *b = PyBytes_FromObject(e);
            if (b == NULL) {
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, i, b);
            Py_DECREF(e);
        }
        if (PyList_Sort(list) < 0) {
            Py_DECREF(list);
            return NULL;
        }
        return one(s_BS, list);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(list, i);
        if (PyBool_Check(e) || !(PyLong_Check(e) || PyFloat_Check(e)
                                 || Py_IS_TYPE(e, (PyTypeObject *)DecimalType))) {
            Py_DECREF(list);
            return NULL;
        }
        PyObject *t = number_text(e);
        if (t == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
        Py_DECREF(e);
    }
    return one(s_NS, list);
}

static PyObject *
fast_typed_unguarded(PyObject *v)
{
    if (PyUnicode_Check(v))
        return one(s_S, Py_NewRef(v));
    if (PyBool_Check(v))
        return one(s_BOOL, Py_NewRef(v));
    if (v == Py_None)
        return one(s_NULL, Py_NewRef(Py_True));
    if (PyLong_Check(v) || PyFloat_Check(v) || Py_IS_TYPE(v, (PyTypeObject *)DecimalType)) {
        PyObject *t = number_text(v);
        return t == NULL ? NULL : one(s_N, t);
    }
    if (PyDict_Check(v)) {
        Py_ssize_t n = PyDict_GET_SIZE(v);
        PyObject *k, *x;
        Py_ssize_t pos = 0;
        if (n == 1) {
            PyDict_Next(v, &pos, &k, &x);
            if (PyUnicode_Check(k) && !PyUnicode_CheckExact(k))
                return NULL;  /* a str subclass: let Python compare it with the tags */
            PyObject *tag = tag_of(k);
            if (tag != NULL)
                return tagged(tag, x);
            pos = 0;
        }
        PyObject *inner = new_dict(n);
        if (inner == NULL)
            return NULL;
        while (PyDict_Next(v, &pos, &k, &x)) {
            PyObject *t = fast_typed(x);
            if (t == NULL || PyDict_SetItem(inner, k, t) < 0) {
                Py_XDECREF(t);
                Py_DECREF(inner);
                return NULL;
            }
            Py_DECREF(t);
        }
        return one(s_M, inner);
    }
    if (PyList_Check(v) || PyTuple_Check(v)) {
        PyObject *seq = PySequence_Fast(v, "");
        if (seq == NULL)
            return NULL;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        PyObject *inner = PyList_New(n);
        if (inner == NULL) {
            Py_DECREF(seq);
            return NULL;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *t = fast_typed(PySequence_Fast_GET_ITEM(seq, i));
            if (t == NULL) {
                Py_DECREF(seq);
                Py_DECREF(inner);
                return NULL;
            }
            PyList_SET_ITEM(inner, i, t);
        }
        Py_DECREF(seq);
        return one(s_L, inner);
    }
    if (PyBytes_Check(v) || PyByteArray_Check(v))
        return one(s_B, PyBytes_FromObject(v));
    if (PyAnySet_Check(v))
        return typed_set(v);
    return NULL;
}

/* Deep nesting raises RecursionError instead of overflowing the C stack. */
static PyObject *
fast_typed(PyObject *v)
{
    if (Py_EnterRecursiveCall(" while converting a nested value"))
        return NULL;
    PyObject * r = fast_typed_unguarded(v);
    Py_LeaveRecursiveCall();
    return r;
}

/* fast_typed(value) -> the typed value, or None when Python must do it (problems to report,
 * unusual types). */
static PyObject *
c_fast_typed(PyObject *self, PyObject *v)
{
    PyObject *t = fast_typed(v);
    if (t == NULL) {
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_MemoryError))
                PyErr_Clear();
            else
                return NULL;
        }
        Py_RETURN_NONE;
    }
    return t;
}

/* fast_item_typed(item) -> {name: typed value}, or None when Python must do it. */
static PyObject *
c_fast_item_typed(PyObject *self, PyObject *item)
{
    if (!PyDict_Check(item))
        Py_RETURN_NONE;
    PyObject *out = new_dict(PyDict_GET_SIZE(item));
    if (out == NULL)
        return NULL;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(item, &pos, &k, &v)) {
        PyObject *t = fast_typed(v);
        if (t == NULL || PyDict_SetItem(out, k, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(out);
            if (PyErr_Occurred()) {
                if (PyErr_ExceptionMatches(PyExc_MemoryError))
                    return NULL;
                PyErr_Clear();
            }
            Py_RETURN_NONE;
        }
        Py_DECREF(t);
    }
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* typed item -> plain JSON text (UTF-8), as values.to_json(item_to_plain(item), pretty=False) */

typedef struct {
    char *buf;
    Py_ssize_t len, cap;
    int lossy;  /* wrote a value whose plain form reads back as another (set, binary, tag map) */
} Out;

static int
grow(Out *o, Py_ssize_t more)
{
    if (o->len + more <= o->cap)
        return 0;
    Py_ssize_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + more)
        cap *= 2;
    char *b = PyMem_Realloc(o->buf, cap);
    if (b == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->buf = b;
    o->cap = cap;
    return 0;
}

static int
put(Out *o, const char *s, Py_ssize_t n)
{
    if (grow(o, n) < 0)
        return -1;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return 0;
}

static inline int
putc1(Out *o, char c)
{
    if (o->len >= o->cap && grow(o, 1) < 0)
        return -1;
    o->buf[o->len++] = c;
    return 0;
}

static const char HEX[] = "0123456789abcdef";

static int
put_string(Out *o, PyObject *s)
{
    Py_ssize_t n;
    const char *c = PyUnicode_AsUTF8AndSize(s, &n);
    if (c == NULL)
        return -1;
    if (grow(o, n * 6 + 2) < 0)   /* the worst case: every byte \u00XX */
        return -1;
    char *w = o->buf + o->len;
    *w++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            *w++ = ch;
            continue;
        }
        *w++ = '\\';
        switch (ch) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\n': *w++ = 'n'; break;
        case '\r': *w++ = 'r'; break;
        case '\t': *w++ = 't'; break;
        case '\b': *w++ = 'b'; break;
        case '\f': *w++ = 'f'; break;
        default:
            *w++ = 'u'; *w++ = '0'; *w++ = '0';
            *w++ = HEX[ch >> 4]; *w++ = HEX[ch & 15];
        }
    }
    *w++ = '"';
    o->len = w - o->buf;
    return 0;
}

/* -?(0|[1-9][0-9]*): written as int() would write it */
static int
canonical_integer(const char *c, Py_ssize_t n)
{
    Py_ssize_t i = (n && c[0] == '-') ? 1 : 0;
    if (i == n || !ascii_integer(c, n))
        return 0;
    if (c[i] == '0')
        return n - i == 1 && i == 0;
    return 1;
}

static int
put_str_object(Out *o, PyObject *s)  /* steals s */
{
    if (s == NULL)
        return -1;
    Py_ssize_t n;
    const char *c = PyUnicode_AsUTF8AndSize(s, &n);
    int r = c == NULL ? -1 : put(o, c, n);
    Py_DECREF(s);
    return r;
}

static int
put_number(Out *o, PyObject *text)
{
    if (PyUnicode_CheckExact(text) && PyUnicode_IS_ASCII(text)) {
        const char *c = (const char *)PyUnicode_DATA(text);
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        if (canonical_integer(c, n))
            return put(o, c, n);
    }
    PyObject *value = number(text);
    if (value == NULL)
        return -1;
    PyObject *s = PyObject_Str(value);
    Py_DECREF(value);
    return put_str_object(o, s);
}

/* Binary (bytes, or base64 text) as its base64 text. */
static int
put_binary_text(Out *o, PyObject *v)
{
    PyObject *b = plain_binary(v);
    if (b == NULL)
        return -1;
    int r = put_string(o, b);
    Py_DECREF(b);
    return r;
}

/* Not the regular case: the text a Python function gives for the value. */
static int
put_text_of(Out *o, PyObject *function, PyObject *value)
{
    if (value == NULL)
        return -1;
    return put_str_object(o, PyObject_CallOneArg(function, value));
}

static int
put_fallback_value(Out *o, PyObject *av)
{
    PyObject *plain = fallback_plain(av);
    int r = put_text_of(o, py_item_json, plain);
    Py_XDECREF(plain);
    return r;
}

typedef int (*PutValue)(Out *, PyObject *);

/* A map of AttributeValues as a JSON object, each value written by put_value. */
static int
put_map(Out *o, PyObject *map, PutValue put_value)
{
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    int first = 1;
    if (putc1(o, '{') < 0)
        return -1;
    while (PyDict_Next(map, &pos, &k, &v)) {
        if (!PyUnicode_Check(k)) {
            PyErr_SetString(PyExc_TypeError, "attribute names must be strings");
            return -1;
        }
        if ((!first && putc1(o, ',') < 0) || put_string(o, k) < 0 || putc1(o, ':') < 0
            || put_value(o, v) < 0)
            return -1;
        first = 0;
    }
    return putc1(o, '}');
}

/* One typed AttributeValue as plain JSON. */
static int put_av(Out *o, PyObject *av);

static int
put_av_unguarded(Out *o, PyObject *av)
{
    if (!PyDict_CheckExact(av) || PyDict_GET_SIZE(av) != 1)
        return put_fallback_value(o, av);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    PyDict_Next(av, &pos, &key, &value);
    PyObject *tag = tag_of(key);
    if (tag == s_S && PyUnicode_CheckExact(value))
        return put_string(o, value);
    if (tag == s_N)
        return put_number(o, value);
    if (tag == s_BOOL && PyBool_Check(value))
        return value == Py_True ? put(o, "true", 4) : put(o, "false", 5);
    if (tag == s_NULL)
        return put(o, "null", 4);
    if (tag == s_M && PyDict_CheckExact(value)) {
        if (PyDict_GET_SIZE(value) == 1) {
            PyObject *k, *x;
            Py_ssize_t p = 0;
            PyDict_Next(value, &p, &k, &x);
            if (PyUnicode_Check(k) && tag_of(k) != NULL)
                o->lossy = 1;
        }
        return put_map(o, value, put_av);
    }
    if (tag == s_SS || tag == s_NS || tag == s_BS || tag == s_B)
        o->lossy = 1;
    if ((tag == s_L || tag == s_SS || tag == s_NS || tag == s_BS) && PyList_CheckExact(value)) {
        Py_ssize_t n = PyList_GET_SIZE(value);
        if (putc1(o, '[') < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *e = PyList_GET_ITEM(value, i);
            int r;
            if (i && putc1(o, ',') < 0)
                return -1;
            if (tag == s_L)
                r = put_av(o, e);
            else if (tag == s_NS)
                r = put_number(o, e);
            else if (tag == s_SS && PyUnicode_CheckExact(e))
                r = put_string(o, e);
            else if (tag == s_BS && (PyUnicode_CheckExact(e) || PyBytes_CheckExact(e)))
                r = put_binary_text(o, e);
            else {
                PyObject *wrapped = Py_BuildValue("{OO}", tag == s_SS ? s_S : s_B, e);
                if (wrapped == NULL)
                    return -1;
                r = put_fallback_value(o, wrapped);
                Py_DECREF(wrapped);
            }
            if (r < 0)
                return -1;
        }
        return putc1(o, ']');
    }
    if (tag == s_B && (PyUnicode_CheckExact(value) || PyBytes_CheckExact(value)))
        return put_binary_text(o, value);
    return put_fallback_value(o, av);
}

/* Deep nesting raises RecursionError instead of overflowing the C stack. */
static int
put_av(Out *o, PyObject *av)
{
    if (Py_EnterRecursiveCall(" while converting a nested value"))
        return -1;
    int r = put_av_unguarded(o, av);
    Py_LeaveRecursiveCall();
    return r;
}

/* Each item of a sequence: `before`, the item as a JSON object of values written by put_value,
 * `after`; `sep` between items. The number of items holding a lossy value is added to *lossy. */
static PyObject *
put_items(PyObject *items, PutValue put_value, const char *before, Py_ssize_t before_len,
          const char *after, Py_ssize_t after_len, const char *sep, Py_ssize_t sep_len,
          Py_ssize_t *lossy)
{
    PyObject *seq = PySequence_Fast(items, "items must be a sequence");
    if (seq == NULL)
        return NULL;
    Out o = {NULL, 0, 0, 0};
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyDict_Check(item)) {
            PyErr_Format(PyExc_TypeError, "an item is an object, not %.100s",
                         Py_TYPE(item)->tp_name);
            goto fail;
        }
        o.lossy = 0;
        if ((i && put(&o, sep, sep_len) < 0) || put(&o, before, before_len) < 0
            || put_map(&o, item, put_value) < 0 || put(&o, after, after_len) < 0)
            goto fail;
        *lossy += o.lossy;
    }
    Py_DECREF(seq);
    PyObject *result = PyBytes_FromStringAndSize(o.buf ? o.buf : "", o.len);
    PyMem_Free(o.buf);
    return result;
fail:
    Py_DECREF(seq);
    PyMem_Free(o.buf);
    return NULL;
}

/* items_jsonl(items) -> bytes: each typed item as one line of plain JSON, each ended by \n. */
static PyObject *
c_items_jsonl(PyObject *self, PyObject *args)
{
    PyObject *items, *lossy = NULL;
    const char *sep = "\n";
    Py_ssize_t sep_len = 1, lossy_items = 0;
    if (!PyArg_ParseTuple(args, "O|s#O!", &items, &sep, &sep_len, &PyList_Type, &lossy))
        return NULL;
    PyObject *result = put_items(items, put_av, "", 0, sep, sep_len, "", 0, &lossy_items);
    if (result != NULL && lossy != NULL) {
        PyObject *count = PyLong_FromSsize_t(lossy_items);
        if (count == NULL || PyList_Append(lossy, count) < 0)
            Py_CLEAR(result);
        Py_XDECREF(count);
    }
    return result;
}

static PyObject *
c_item_json(PyObject *self, PyObject *item)
{
    if (!PyDict_Check(item)) {
        PyErr_Format(PyExc_TypeError, "an item is an object, not %.100s", Py_TYPE(item)->tp_name);
        return NULL;
    }
    Out o = {NULL, 0, 0, 0};
    if (put_map(&o, item, put_av) < 0) {
        PyMem_Free(o.buf);
        return NULL;
    }
    PyObject *result = PyUnicode_DecodeUTF8(o.buf, o.len, "strict");
    PyMem_Free(o.buf);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* typed items -> typed JSON text (binary in base64), as botocore's serializer sends them */

static int
put_typed_fallback(Out *o, PyObject *av)
{
    return put_text_of(o, py_typed_json, av);
}

/* One typed AttributeValue as typed JSON. */
static int put_typed(Out *o, PyObject *av);

static int
put_typed_unguarded(Out *o, PyObject *av)
{
    if (!PyDict_CheckExact(av) || PyDict_GET_SIZE(av) != 1)
        return put_typed_fallback(o, av);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    PyDict_Next(av, &pos, &key, &value);
    PyObject *tag = tag_of(key);
    if (tag == NULL)
        return put_typed_fallback(o, av);
    int ok = 0;  /* is the value the regular kind for its tag? */
    if (tag == s_S || tag == s_N)
        ok = PyUnicode_CheckExact(value);
    else if (tag == s_B)
        ok = PyBytes_CheckExact(value) || PyUnicode_CheckExact(value);
    else if (tag == s_BOOL || tag == s_NULL)
        ok = PyBool_Check(value);
    else if (tag == s_M)
        ok = PyDict_CheckExact(value);
    else {
        ok = PyList_CheckExact(value);
        Py_ssize_t n = ok ? PyList_GET_SIZE(value) : 0;
        for (Py_ssize_t i = 0; ok && tag != s_L && i < n; i++) {
            PyObject *e = PyList_GET_ITEM(value, i);
            ok = PyUnicode_CheckExact(e) || (tag == s_BS && PyBytes_CheckExact(e));
        }
    }
    if (!ok)
        return put_typed_fallback(o, av);
    if (putc1(o, '{') < 0 || put_string(o, tag) < 0 || putc1(o, ':') < 0)
        return -1;
    int r;
    if (tag == s_S || tag == s_N)
        r = put_string(o, value);
    else if (tag == s_B)
        r = put_binary_text(o, value);
    else if (tag == s_BOOL || tag == s_NULL)
        r = value == Py_True ? put(o, "true", 4) : put(o, "false", 5);
    else if (tag == s_M)
        r = put_map(o, value, put_typed);
    else {
        Py_ssize_t n = PyList_GET_SIZE(value);
        r = putc1(o, '[');
        for (Py_ssize_t i = 0; r == 0 && i < n; i++) {
            PyObject *e = PyList_GET_ITEM(value, i);
            if (i && putc1(o, ',') < 0)
                return -1;
            if (tag == s_L)
                r = put_typed(o, e);
            else if (tag == s_BS)
                r = put_binary_text(o, e);
            else
                r = put_string(o, e);
        }
        if (r == 0)
            r = putc1(o, ']');
    }
    if (r < 0)
        return r;
    return putc1(o, '}');
}

/* Deep nesting raises RecursionError instead of overflowing the C stack. */
static int
put_typed(Out *o, PyObject *av)
{
    if (Py_EnterRecursiveCall(" while converting a nested value"))
        return -1;
    int r = put_typed_unguarded(o, av);
    Py_LeaveRecursiveCall();
    return r;
}

/* typed_json_items(items, before, after, separator) -> bytes: for each typed item, `before`,
 * the item as JSON (binary in base64), `after`; `separator` between items. */
static PyObject *
c_typed_json_items(PyObject *self, PyObject *args)
{
    PyObject *items;
    const char *before, *after, *sep;
    Py_ssize_t before_len, after_len, sep_len;
    if (!PyArg_ParseTuple(args, "Oy#y#y#", &items, &before, &before_len, &after, &after_len,
                          &sep, &sep_len))
        return NULL;
    Py_ssize_t lossy = 0;  /* typed JSON loses nothing */
    return put_items(items, put_typed, before, before_len, after, after_len, sep, sep_len, &lossy);
}

/* ------------------------------------------------------------------------------------------ */
/* a page's typed JSON body -> plain JSON lines, with no Python object made for its items
 *
 * page_lines(body, separator=b"\n") reads a Scan or Query answer's body as it came on the wire
 * and writes each item of its "Items" as values.items_jsonl writes it (int() and str(Decimal)
 * for numbers, sets as lists, binary as its base64 text, strings as simplejson writes them with
 * ensure_ascii=False), each followed by the separator. It returns (lines, count, lossy, rest):
 * `rest` is the JSON text of an object holding the body's other members as they were (Count,
 * LastEvaluatedKey...), for json.loads. It returns None when the body is valid so far but not
 * the regular case (a number Decimal reads in some other way, a lone surrogate, a repeated
 * name, an odd AttributeValue...): the caller then parses the page and converts it in Python,
 * which gives the same result by construction. Malformed JSON raises ValueError. Everything is
 * done on the bytes, without the GIL, with bounds checked at every read. */

enum { T_OK = 0, T_FAIL = -1, T_OTHER = -2 };  /* FAIL: the error is in the Page */
#define T_MAX_DEPTH 200                         /* DynamoDB nests 32 levels at most */

enum { TAG_S, TAG_N, TAG_B, TAG_SS, TAG_NS, TAG_BS, TAG_M, TAG_L, TAG_NULL, TAG_BOOL };

typedef struct {
    char *buf;
    Py_ssize_t len, cap;
} Buf;

typedef struct {
    Py_ssize_t at, len;  /* a map's member name as written in `out` (quotes included) */
} Name;

typedef struct {
    const unsigned char *p, *start, *end;
    Buf out, rest;
    Name *names;  /* the names of the maps being read, innermost last */
    Py_ssize_t n_names, cap_names;
    int lossy;
    const char *error;  /* malformed: what, at which byte */
    Py_ssize_t error_at;
    int nomem;
} Page;

static int
t_bad(Page *t, const char *what)
{
    if (t->error == NULL && !t->nomem) {
        t->error = what;
        t->error_at = t->p - t->start;
    }
    return T_FAIL;
}

static int
buf_grow(Page *t, Buf *b, Py_ssize_t more)
{
    if (b->len + more <= b->cap)
        return T_OK;
    if (more > PY_SSIZE_T_MAX / 4 - b->len) {
        t->nomem = 1;
        return T_FAIL;
    }
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *n = PyMem_RawRealloc(b->buf, cap);
    if (n == NULL) {
        t->nomem = 1;
        return T_FAIL;
    }
    b->buf = n;
    b->cap = cap;
    return T_OK;
}

static inline int
buf_put(Page *t, Buf *b, const void *s, Py_ssize_t n)
{
    if (buf_grow(t, b, n))
        return T_FAIL;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    return T_OK;
}

static inline int
t_put(Page *t, const void *s, Py_ssize_t n)
{
    return buf_put(t, &t->out, s, n);
}

static inline int
t_putc(Page *t, char c)
{
    if (t->out.len >= t->out.cap && buf_grow(t, &t->out, 1))
        return T_FAIL;
    t->out.buf[t->out.len++] = c;
    return T_OK;
}

static inline void
t_blank(Page *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\n' || *t->p == '\r' || *t->p == '\t'))
        t->p++;
}

static inline int
t_at(Page *t, char c)
{
    return t->p < t->end && *t->p == (unsigned char)c;
}

static int
t_expect(Page *t, char c, const char *what)
{
    t_blank(t);
    if (!t_at(t, c))
        return t_bad(t, what);
    t->p++;
    return T_OK;
}

static int
tag_code(const unsigned char *s, Py_ssize_t n)
{
    if (n == 1) {
        switch (s[0]) {
        case 'S': return TAG_S;
        case 'N': return TAG_N;
        case 'B': return TAG_B;
        case 'M': return TAG_M;
        case 'L': return TAG_L;
        }
    }
    else if (n == 2 && s[1] == 'S') {
        switch (s[0]) {
        case 'S': return TAG_SS;
        case 'N': return TAG_NS;
        case 'B': return TAG_BS;
        }
    }
    else if (n == 4) {
        if (memcmp(s, "NULL", 4) == 0) return TAG_NULL;
        if (memcmp(s, "BOOL", 4) == 0) return TAG_BOOL;
    }
    return -1;
}

/* The length of the valid UTF-8 sequence at p (its first byte >= 0x80), or 0: what Python's
 * strict decoder refuses (overlong forms, surrogates, past U+10FFFF) is refused. */
static int
utf8_length(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return end - p >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80
            || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static int
hex4(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A code point from an escape, written as simplejson writes it (ensure_ascii=False). */
static int
t_code_point(Page *t, unsigned int cp)
{
    char e[6];
    switch (cp) {
    case '"': return t_put(t, "\\\"", 2);
    case '\\': return t_put(t, "\\\\", 2);
    case '\n': return t_put(t, "\\n", 2);
    case '\r': return t_put(t, "\\r", 2);
    case '\t': return t_put(t, "\\t", 2);
    case '\b': return t_put(t, "\\b", 2);
    case '\f': return t_put(t, "\\f", 2);
    }
    if (cp < 0x20) {
        e[0] = '\\'; e[1] = 'u'; e[2] = '0'; e[3] = '0';
        e[4] = HEX[cp >> 4]; e[5] = HEX[cp & 15];
        return t_put(t, e, 6);
    }
    if (cp < 0x80)
        return t_putc(t, (char)cp);
    if (cp < 0x800) {
        e[0] = (char)(0xC0 | (cp >> 6)); e[1] = (char)(0x80 | (cp & 0x3F));
        return t_put(t, e, 2);
    }
    if (cp < 0x10000) {
        e[0] = (char)(0xE0 | (cp >> 12)); e[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        e[2] = (char)(0x80 | (cp & 0x3F));
        return t_put(t, e, 3);
    }
    e[0] = (char)(0xF0 | (cp >> 18)); e[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    e[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); e[3] = (char)(0x80 | (cp & 0x3F));
    return t_put(t, e, 4);
}

/* The escape at p (a backslash): its code point, p moved past it; -1 malformed, -2 a lone
 * surrogate (valid JSON, but text Python would fail to write as UTF-8). */
static long
t_escape(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    if (end - p < 2)
        return -1;
    long cp;
    switch (p[1]) {
    case '"': case '\\': case '/': cp = p[1]; break;
    case 'b': cp = '\b'; break;
    case 'f': cp = '\f'; break;
    case 'n': cp = '\n'; break;
    case 'r': cp = '\r'; break;
    case 't': cp = '\t'; break;
    case 'u':
        cp = hex4(p + 2, end);
        if (cp < 0)
            return -1;
        if (cp >= 0xD800 && cp < 0xDC00) {
            int low = p + 7 < end && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8, end) : -1;
            if (low < 0xDC00 || low >= 0xE000)
                return -2;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            p += 6;
        }
        else if (cp >= 0xDC00 && cp < 0xE000)
            return -2;
        *pp = p + 6;
        return cp;
    default:
        return -1;
    }
    *pp = p + 2;
    return cp;
}

/* The JSON string at t->p (at its opening quote): with `out`, written as simplejson writes the
 * text it holds (ensure_ascii=False); without, only checked. */
static int
t_string(Page *t, int out)
{
    const unsigned char *p = t->p + 1, *end = t->end;
    if (out && t_putc(t, '"'))
        return T_FAIL;
    for (;;) {
        const unsigned char *run = p;
        for (;;) {
            while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
                p++;
            if (p < end && *p >= 0x80) {
                int n = utf8_length(p, end);
                if (!n) {
                    t->p = p;
                    return t_bad(t, "invalid UTF-8");
                }
                p += n;
                continue;
            }
            break;
        }
        if (out && p > run && t_put(t, run, p - run))
            return T_FAIL;
        t->p = p;
        if (p >= end)
            return t_bad(t, "unterminated string");
        if (*p == '"') {
            t->p = p + 1;
            return out ? t_putc(t, '"') : T_OK;
        }
        if (*p < 0x20)
            return t_bad(t, "invalid control character in a string");
        long cp = t_escape(&p, end);
        if (cp == -1)
            return t_bad(t, "invalid escape in a string");
        if (cp == -2)
            return T_OTHER;
        if (out && t_code_point(t, (unsigned int)cp))
            return T_FAIL;
    }
}

/* The digits of a number's coefficient, from..to, the integral part then the fraction's. */
static int
t_digits(Page *t, const unsigned char *ip, Py_ssize_t ni, const unsigned char *fp,
         Py_ssize_t from, Py_ssize_t to)
{
    for (Py_ssize_t k = from; k < to; k++)
        if (t_putc(t, (char)(k < ni ? ip[k] : fp[k - ni])))
            return T_FAIL;
    return T_OK;
}

/* A Decimal's str(): sign, coefficient digits (no leading zeros) and exponent, as
 * Decimal.__str__ writes them (the `to-sci-string` of the General Decimal Arithmetic). */
static int
t_decimal(Page *t, int negative, const unsigned char *ip, Py_ssize_t ni,
          const unsigned char *fp, Py_ssize_t nf, long long exponent)
{
    Py_ssize_t n = ni + nf, z = 0;
    while (z < n - 1 && (z < ni ? ip[z] : fp[z - ni]) == '0')
        z++;
    Py_ssize_t clen = n - z;
    long long exp = exponent - nf, left = exp + clen, dot;
    dot = (exp <= 0 && left > -6) ? left : 1;
    if (negative && t_putc(t, '-'))
        return T_FAIL;
    if (dot <= 0) {
        if (t_put(t, "0.", 2))
            return T_FAIL;
        for (long long i = 0; i < -dot; i++)
            if (t_putc(t, '0'))
                return T_FAIL;
        if (t_digits(t, ip, ni, fp, z, n))
            return T_FAIL;
    }
    else if (dot >= clen) {
        if (t_digits(t, ip, ni, fp, z, n))
            return T_FAIL;
        for (long long i = clen; i < dot; i++)
            if (t_putc(t, '0'))
                return T_FAIL;
    }
    else if (t_digits(t, ip, ni, fp, z, z + dot) || t_putc(t, '.')
             || t_digits(t, ip, ni, fp, z + dot, n))
        return T_FAIL;
    if (left != dot) {
        char e[32];
        int len = snprintf(e, sizeof e, "E%+lld", left - dot);
        return t_put(t, e, len);
    }
    return T_OK;
}

/* The N value at t->p (a JSON string) as values.number's result prints: int() for integers,
 * str(Decimal) otherwise. T_OTHER for anything but -?d+(.d+)?([eE][+-]?d+)? of sane size. */
static int
t_number(Page *t)
{
    const unsigned char *p = t->p, *end = t->end;
    if (p >= end || *p != '"')
        return T_OTHER;
    const unsigned char *c = ++p;
    while (p < end && *p != '"' && *p > 0x20 && *p < 0x7F && *p != '\\')
        p++;
    if (p >= end || *p != '"')
        return T_OTHER;
    const unsigned char *e = p;
    int negative = c < e && *c == '-';
    c += negative;
    const unsigned char *ip = c;
    while (c < e && *c >= '0' && *c <= '9')
        c++;
    Py_ssize_t ni = c - ip, nf = 0;
    const unsigned char *fp = c;
    if (c < e && *c == '.') {
        fp = ++c;
        while (c < e && *c >= '0' && *c <= '9')
            c++;
        nf = c - fp;
        if (!nf)
            return T_OTHER;
    }
    long long exponent = 0;
    int has_exponent = c < e && (*c == 'e' || *c == 'E');
    if (has_exponent) {
        int minus = 0;
        c++;
        if (c < e && (*c == '+' || *c == '-'))
            minus = *c++ == '-';
        const unsigned char *digits = c;
        while (c < e && *c == '0')
            c++;
        const unsigned char *significant = c;
        while (c < e && *c >= '0' && *c <= '9')
            c++;
        if (c == digits || c - significant > 9)
            return T_OTHER;
        for (const unsigned char *d = significant; d < c; d++)
            exponent = exponent * 10 + (*d - '0');
        exponent = minus ? -exponent : exponent;
    }
    if (c != e || !ni || ni + nf > 4000)
        return T_OTHER;
    t->p = e + 1;
    if (nf || has_exponent)
        return t_decimal(t, negative, ip, ni, fp, nf, exponent);
    while (ni > 1 && *ip == '0') {  /* an integer, as int() writes it */
        ip++;
        ni--;
    }
    if (negative && !(ni == 1 && *ip == '0') && t_putc(t, '-'))
        return T_FAIL;
    return t_put(t, ip, ni);
}

static int t_value(Page *t, int depth);

typedef int (*Element)(Page *, int);

static int
e_string(Page *t, int depth)
{
    return t_at(t, '"') ? t_string(t, 1) : T_OTHER;
}

static int
e_number(Page *t, int depth)
{
    return t_number(t);
}

/* [element, ...] at t->p, written as a JSON array of the elements as `element` writes them. */
static int
t_array(Page *t, Element element, int depth)
{
    if (!t_at(t, '['))
        return T_OTHER;
    t->p++;
    if (t_putc(t, '['))
        return T_FAIL;
    t_blank(t);
    if (t_at(t, ']')) {
        t->p++;
        return t_putc(t, ']');
    }
    for (;;) {
        t_blank(t);
        int r = element(t, depth);
        if (r)
            return r;
        t_blank(t);
        if (t_at(t, ']')) {
            t->p++;
            return t_putc(t, ']');
        }
        if (!t_at(t, ','))
            return t_bad(t, "',' or ']' expected");
        t->p++;
        if (t_putc(t, ','))
            return T_FAIL;
    }
}

/* Whether the name just written (names[i]) repeats one of the map's earlier names (from
 * `first`): json.loads would keep one value, so Python must do such a page. */
static int
t_repeated(Page *t, Py_ssize_t first)
{
    Name *last = &t->names[t->n_names - 1];
    for (Name *n = &t->names[first]; n < last; n++)
        if (n->len == last->len && memcmp(t->out.buf + n->at, t->out.buf + last->at, n->len) == 0)
            return 1;
    return 0;
}

static int
t_push_name(Page *t, Py_ssize_t at, Py_ssize_t len)
{
    if (t->n_names == t->cap_names) {
        Py_ssize_t cap = t->cap_names ? t->cap_names * 2 : 64;
        Name *n = PyMem_RawRealloc(t->names, cap * sizeof(Name));
        if (n == NULL) {
            t->nomem = 1;
            return T_FAIL;
        }
        t->names = n;
        t->cap_names = cap;
    }
    t->names[t->n_names].at = at;
    t->names[t->n_names].len = len;
    t->n_names++;
    return T_OK;
}

/* {name: AttributeValue, ...} at t->p (an item, or an M's map) as a plain JSON object. *tags
 * (if given) says whether its only name is a type tag (its plain form reads back as typed). */
static int
t_map(Page *t, int depth, int *tags)
{
    if (!t_at(t, '{'))
        return T_OTHER;
    t->p++;
    if (t_putc(t, '{'))
        return T_FAIL;
    t_blank(t);
    if (t_at(t, '}')) {
        t->p++;
        return t_putc(t, '}');
    }
    Py_ssize_t first = t->n_names;
    int r = T_OK;
    for (;;) {
        t_blank(t);
        if (!t_at(t, '"')) {
            r = t_bad(t, "a member name expected");
            break;
        }
        Py_ssize_t at = t->out.len;
        if ((r = t_string(t, 1)) || (r = t_push_name(t, at, t->out.len - at)))
            break;
        if (t_repeated(t, first)) {
            r = T_OTHER;
            break;
        }
        if ((r = t_expect(t, ':', "':' expected")) || (r = t_putc(t, ':')))
            break;
        t_blank(t);
        if ((r = t_value(t, depth + 1)))
            break;
        t_blank(t);
        if (t_at(t, '}')) {
            t->p++;
            r = t_putc(t, '}');
            break;
        }
        if (!t_at(t, ',')) {
            r = t_bad(t, "',' or '}' expected");
            break;
        }
        t->p++;
        if ((r = t_putc(t, ',')))
            break;
    }
    if (r == T_OK && tags != NULL && t->n_names - first == 1) {
        Name *n = &t->names[first];
        *tags = tag_code((const unsigned char *)t->out.buf + n->at + 1, n->len - 2) >= 0;
    }
    t->n_names = first;
    return r;
}

static int
e_value(Page *t, int depth)
{
    return t_value(t, depth);
}

/* true / false at t->p: 1 / 0, moved past it; -1 for anything else */
static int
t_boolean(Page *t)
{
    if (t->end - t->p >= 4 && memcmp(t->p, "true", 4) == 0) {
        t->p += 4;
        return 1;
    }
    if (t->end - t->p >= 5 && memcmp(t->p, "false", 5) == 0) {
        t->p += 5;
        return 0;
    }
    return -1;
}

/* One typed AttributeValue at t->p ({"tag": value}) written as plain JSON. */
static int
t_value(Page *t, int depth)
{
    if (depth > T_MAX_DEPTH || !t_at(t, '{'))
        return T_OTHER;
    t->p++;
    t_blank(t);
    if (!t_at(t, '"'))
        return T_OTHER;
    const unsigned char *name = t->p + 1, *q = name;
    while (q < t->end && *q != '"' && q - name < 5)
        q++;
    int tag = q < t->end && *q == '"' ? tag_code(name, q - name) : -1;
    if (tag < 0)
        return T_OTHER;
    t->p = q;
    t->p++;
    int r = t_expect(t, ':', "':' expected"), b, single = 0;
    if (r)
        return r;
    t_blank(t);
    switch (tag) {
    case TAG_S: r = e_string(t, depth); break;
    case TAG_N: r = t_number(t); break;
    case TAG_B: t->lossy = 1; r = e_string(t, depth); break;
    case TAG_SS: case TAG_BS: t->lossy = 1; r = t_array(t, e_string, depth); break;
    case TAG_NS: t->lossy = 1; r = t_array(t, e_number, depth); break;
    case TAG_L: r = t_array(t, e_value, depth + 1); break;
    case TAG_M:
        r = t_map(t, depth, &single);
        t->lossy |= single;
        break;
    case TAG_BOOL:
        b = t_boolean(t);
        r = b < 0 ? T_OTHER : b ? t_put(t, "true", 4) : t_put(t, "false", 5);
        break;
    case TAG_NULL:
        r = t_boolean(t) < 0 ? T_OTHER : t_put(t, "null", 4);
        break;
    }
    if (r)
        return r;
    t_blank(t);
    if (t_at(t, '}')) {
        t->p++;
        return T_OK;
    }
    return t_at(t, ',') ? T_OTHER : t_bad(t, "',' or '}' expected");
}

/* Any JSON value at t->p, passed over (checked loosely: `rest` is read by json.loads). */
static int
t_skip(Page *t, int depth)
{
    t_blank(t);
    if (depth > T_MAX_DEPTH)
        return T_OTHER;
    if (t->p >= t->end)
        return t_bad(t, "a value expected");
    unsigned char c = *t->p;
    if (c == '"')
        return t_string(t, 0);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        t->p++;
        t_blank(t);
        if (t_at(t, close)) {
            t->p++;
            return T_OK;
        }
        for (;;) {
            int r;
            t_blank(t);
            if (c == '{') {
                if (!t_at(t, '"'))
                    return t_bad(t, "a member name expected");
                if ((r = t_string(t, 0)) || (r = t_expect(t, ':', "':' expected")))
                    return r;
            }
            if ((r = t_skip(t, depth + 1)))
                return r;
            t_blank(t);
            if (t_at(t, close)) {
                t->p++;
                return T_OK;
            }
            if (!t_at(t, ','))
                return t_bad(t, "',' or a closing bracket expected");
            t->p++;
        }
    }
    const unsigned char *start = t->p;  /* a number, true, false, null */
    while (t->p < t->end && ((*t->p >= '0' && *t->p <= '9') || (*t->p >= 'a' && *t->p <= 'z')
                             || (*t->p >= 'A' && *t->p <= 'Z') || *t->p == '-'
                             || *t->p == '+' || *t->p == '.'))
        t->p++;
    return t->p > start ? T_OK : t_bad(t, "a value expected");
}

/* The items of "Items": [...] at t->p, each written as a line followed by the separator. */
static int
t_items(Page *t, const char *sep, Py_ssize_t sep_len, Py_ssize_t *count, Py_ssize_t *lossy)
{
    t->p++;
    t_blank(t);
    if (t_at(t, ']')) {
        t->p++;
        return T_OK;
    }
    for (;;) {
        t_blank(t);
        t->lossy = 0;
        int r = t_map(t, 0, NULL);
        if (r || (r = t_put(t, sep, sep_len)))
            return r;
        *count += 1;
        *lossy += t->lossy;
        t_blank(t);
        if (t_at(t, ']')) {
            t->p++;
            return T_OK;
        }
        if (!t_at(t, ','))
            return t_bad(t, "',' or ']' expected");
        t->p++;
    }
}

/* One member of the page: the items written out, anything else copied into `rest`. */
static int
t_member(Page *t, const char *sep, Py_ssize_t sep_len, Py_ssize_t *count, Py_ssize_t *lossy)
{
    t_blank(t);
    if (!t_at(t, '"'))
        return t_bad(t, "a member name expected");
    const unsigned char *name = t->p;
    int r = t_string(t, 0);
    if (r)
        return r;
    Py_ssize_t name_len = t->p - name;
    if (memchr(name, '\\', name_len) != NULL)
        return T_OTHER;  /* a name written with escapes: Python compares the text */
    if ((r = t_expect(t, ':', "':' expected")))
        return r;
    t_blank(t);
    if (name_len == 7 && memcmp(name, "\"Items\"", 7) == 0 && t_at(t, '['))
        return t_items(t, sep, sep_len, count, lossy);
    const unsigned char *value = t->p;
    if ((r = t_skip(t, 0)))
        return r;
    if ((t->rest.len > 1 && buf_put(t, &t->rest, ",", 1)) || buf_put(t, &t->rest, name, name_len)
        || buf_put(t, &t->rest, ":", 1) || buf_put(t, &t->rest, value, t->p - value))
        return T_FAIL;
    return T_OK;
}

static int
t_page(Page *t, const char *sep, Py_ssize_t sep_len, Py_ssize_t *count, Py_ssize_t *lossy)
{
    int r;
    Py_ssize_t expected = t->end - t->start;  /* about what the lines take */
    if (buf_grow(t, &t->out, expected + 1024) || buf_put(t, &t->rest, "{", 1))
        return T_FAIL;
    if ((r = t_expect(t, '{', "'{' expected")))
        return r;
    t_blank(t);
    if (!t_at(t, '}')) {
        for (;;) {
            if ((r = t_member(t, sep, sep_len, count, lossy)))
                return r;
            t_blank(t);
            if (t_at(t, '}'))
                break;
            if (!t_at(t, ','))
                return t_bad(t, "',' or '}' expected");
            t->p++;
        }
    }
    t->p++;
    for (; t->p < t->end; t->p++) {  /* what follows is not read, but must be UTF-8 */
        if (*t->p >= 0x80) {
            int n = utf8_length(t->p, t->end);
            if (!n)
                return t_bad(t, "invalid UTF-8");
            t->p += n - 1;
        }
    }
    return buf_put(t, &t->rest, "}", 1);
}

/* page_lines(body, separator=b"\n") -> (lines, count, lossy, rest) or None: see above. */
static PyObject *
c_page_lines(PyObject *self, PyObject *args)
{
    Py_buffer body;
    const char *sep = "\n";
    Py_ssize_t sep_len = 1, count = 0, lossy = 0;
    if (!PyArg_ParseTuple(args, "y*|y#", &body, &sep, &sep_len))
        return NULL;
    Page t;
    memset(&t, 0, sizeof t);
    t.start = t.p = body.buf;
    t.end = t.start + body.len;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = t_page(&t, sep, sep_len, &count, &lossy);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (r == T_OTHER)
        result = Py_NewRef(Py_None);
    else if (t.nomem)
        PyErr_NoMemory();
    else if (r == T_FAIL)
        PyErr_Format(PyExc_ValueError, "a page's JSON body: %s at byte %zd", t.error,
                     t.error_at);
    else
        result = Py_BuildValue("(y#nny#)", t.out.buf ? t.out.buf : "", t.out.len, count, lossy,
                               t.rest.buf, t.rest.len);
    PyMem_RawFree(t.out.buf);
    PyMem_RawFree(t.rest.buf);
    PyMem_RawFree(t.names);
    PyBuffer_Release(&body);
    return result;
}

/* ------------------------------------------------------------------------------------------ */

static PyObject *
c_setup(PyObject *self, PyObject *args)
{
    PyObject *dec, *tp, *num, *ij, *b64, *tj;
    if (!PyArg_ParseTuple(args, "OOOOOO", &dec, &tp, &num, &ij, &b64, &tj))
        return NULL;
    Py_XSETREF(py_typed_json, Py_NewRef(tj));
    Py_XSETREF(DecimalType, Py_NewRef(dec));
    Py_XSETREF(py_to_plain, Py_NewRef(tp));
    Py_XSETREF(py_number, Py_NewRef(num));
    Py_XSETREF(py_item_json, Py_NewRef(ij));
    Py_XSETREF(py_b64decode, Py_NewRef(b64));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", c_setup, METH_VARARGS, "Give the module the Python functions it falls back to."},
    {"to_plain", c_to_plain, METH_O, "One typed AttributeValue as a plain value."},
    {"item_to_plain", c_item_to_plain, METH_O, "A typed item (a map of AttributeValues) as plain."},
    {"items_to_plain", c_items_to_plain, METH_O, "A list of typed items as plain."},
    {"fast_typed", c_fast_typed, METH_O,
     "A plain or typed value as typed, or None when it needs the careful path."},
    {"fast_item_typed", c_fast_item_typed, METH_O,
     "An item's values as typed, or None when one needs the careful path."},
    {"item_json", c_item_json, METH_O, "A typed item as compact plain JSON text."},
    {"typed_json_items", c_typed_json_items, METH_VARARGS,
     "typed_json_items(items, before, after, separator) -> bytes: typed items as JSON."},
    {"page_lines", c_page_lines, METH_VARARGS,
     "page_lines(body, separator=b'\\n') -> (lines, count, lossy, rest) or None: a Scan or "
     "Query answer's typed JSON body as plain JSON lines, written from the bytes (None: not "
     "the regular case, let Python do the page; ValueError: malformed)."},
    {"items_jsonl", c_items_jsonl, METH_VARARGS,
     "items_jsonl(items, separator='\\n', lossy=None): typed items as UTF-8 plain JSON, each "
     "followed by the separator; a list given as `lossy` gets the number of items holding "
     "values whose plain form reads back as something else (sets, binary, tag-like maps)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_codec", "Accelerators of dynaquery.values.", -1, methods,
};

PyMODINIT_FUNC
PyInit__codec(void)
{
#define TAG(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL;
    TAG(s_S, "S") TAG(s_N, "N") TAG(s_B, "B") TAG(s_SS, "SS") TAG(s_NS, "NS") TAG(s_BS, "BS")
    TAG(s_M, "M") TAG(s_L, "L") TAG(s_NULL, "NULL") TAG(s_BOOL, "BOOL")
#undef TAG
    return PyModule_Create(&module);
}
