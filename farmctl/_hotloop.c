/* farmctl's hot loop in C: the contract of farmctl.hotloop.run_python, for many ports at once and
 * without the interpreter lock.
 *
 * Streams() holds the bursts of any number of ports:
 *   start(fd, lines, ends, in_flight, slots, max_bytes, quiet, quiet_after_ok)
 *       a port's burst: its lines (back to back in `lines`, each ending at its entry in `ends`) go
 *       out as the window frees, at most `slots` lines and `max_bytes` bytes in flight, counting the
 *       transmissions whose sizes `in_flight` lists. Each reply "ok\n" (or "ok\r\n") frees the oldest.
 *   run(wake_fd, watch, timeout) -> (woken, ready, outcomes)
 *       runs every burst until one stops, wake_fd or one of `watch` ((fd, events) pairs: ports
 *       served by Python meanwhile) is ready, or `timeout` seconds pass (< 0: no limit). `ready`
 *       lists the watched (fd, revents) that are ready, `outcomes` the bursts that stopped.
 *   stop(fd) -> outcome or None: ends a port's burst where it stands.
 * An outcome is (fd, stop, sent, unwritten, oks, since_last_ok, rest, oks_before, errno).
 * A burst stops at the first reply other than a plain ok, once every line is out, when `quiet`
 * seconds pass (then `quiet_after_ok` after each ok; quiet < 0: no limit), when the port takes
 * only part of a line, or on a failed read or write (errno, negative for a write). Only plain oks
 * and whole lines are taken; everything else read comes back in `rest`. The rules are the
 * sender's (farmctl/protocol/sender.py); this only executes them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum stop { RUNNING = -1, ALL_SENT = 0, WOKEN = 1, QUIET = 2, OTHER = 3, BLOCKED = 4, GONE = 5 };

#define READ_SIZE 4096

typedef struct {
    int fd;
    PyObject *lines; /* bytes, held while the burst runs */
    const char *data;
    Py_ssize_t count, *ends, *sizes, *oks_before;
    Py_ssize_t first, last, in_flight; /* sizes[first:last] are in flight */
    int slots;
    Py_ssize_t max_bytes;
    double deadline, quiet_after_ok, last_ok; /* deadline < 0: none */
    Py_ssize_t sent, oks, unwritten, buffered;
    int stop, error;
    char buffer[READ_SIZE + 8];
} Port;

typedef struct {
    PyObject_HEAD
    Port **ports;
    Py_ssize_t used, capacity;
    struct pollfd *watch;
    Py_ssize_t watch_capacity;
} Streams;

static double monotonic(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static void port_free(Port *port)
{
    if (port == NULL)
        return;
    Py_XDECREF(port->lines);
    PyMem_Free(port->ends);
    PyMem_Free(port->sizes);
    PyMem_Free(port->oks_before);
    PyMem_Free(port);
}

/* Is buf[0:len] a plain ok line, its "\n" excluded? */
static int is_ok(const char *buf, Py_ssize_t len)
{
    return (len == 2 && buf[0] == 'o' && buf[1] == 'k')
        || (len == 3 && buf[0] == 'o' && buf[1] == 'k' && buf[2] == '\r');
}

/* Could buf[0:len], a line not yet ended, still become a plain ok? */
static int may_be_ok(const char *buf, Py_ssize_t len)
{
    static const char prefix[] = "ok\r";
    return len <= 3 && memcmp(buf, prefix, (size_t)len) == 0;
}

/* Out with every line the window has room for; sets port->stop when the burst ends. */
static void port_send(Port *port)
{
    while (port->sent < port->count) {
        Py_ssize_t begin = port->sent ? port->ends[port->sent - 1] : 0;
        Py_ssize_t size = port->ends[port->sent] - begin, flight = port->last - port->first;
        if (flight && (flight >= port->slots || port->in_flight + size > port->max_bytes))
            return;
        ssize_t written = write(port->fd, port->data + begin, (size_t)size);
        if (written < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                port->stop = GONE;
                port->error = -errno;
                return;
            }
            written = 0;
        }
        port->oks_before[port->sent++] = port->oks;
        port->sizes[port->last++] = size;
        port->in_flight += size;
        if (written < size) {
            port->unwritten = size - written;
            port->stop = BLOCKED;
            return;
        }
    }
    port->stop = ALL_SENT;
}

/* The port is readable (revents): read, take the plain oks; sets port->stop when the burst ends. */
static void port_read(Port *port, short revents, double now)
{
    if (!(revents & POLLIN)) {
        port->stop = GONE;
        return;
    }
    ssize_t got = read(port->fd, port->buffer + port->buffered, READ_SIZE);
    if (got < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            port->stop = GONE;
            port->error = errno;
        }
        return;
    }
    if (got == 0) {
        port->stop = GONE;
        return;
    }
    port->buffered += got;
    Py_ssize_t taken = 0;
    char *end;
    while ((end = memchr(port->buffer + taken, '\n', (size_t)(port->buffered - taken))) != NULL) {
        Py_ssize_t length = end - (port->buffer + taken);
        if (!is_ok(port->buffer + taken, length) || port->first == port->last) {
            port->stop = OTHER;
            break;
        }
        taken += length + 1;
        port->in_flight -= port->sizes[port->first++];
        port->oks++;
        port->last_ok = now;
        port->deadline = now + port->quiet_after_ok;
    }
    memmove(port->buffer, port->buffer + taken, (size_t)(port->buffered - taken));
    port->buffered -= taken;
    if (port->stop == RUNNING && !may_be_ok(port->buffer, port->buffered))
        port->stop = OTHER; /* a longer reply is on its way: the general path reads it */
}

/* The outcome tuple of a burst that ended (or was stopped), or NULL with an exception set. */
static PyObject *outcome_of(Port *port)
{
    PyObject *before = PyTuple_New(port->sent);
    if (before == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < port->sent; i++) {
        PyObject *number = PyLong_FromSsize_t(port->oks_before[i]);
        if (number == NULL) {
            Py_DECREF(before);
            return NULL;
        }
        PyTuple_SET_ITEM(before, i, number);
    }
    return Py_BuildValue("iinnnd" "y#Ni", port->fd, port->stop == RUNNING ? WOKEN : port->stop, port->sent,
                         port->unwritten, port->oks, monotonic() - port->last_ok, port->buffer, port->buffered,
                         before, port->error);
}

static Py_ssize_t find(Streams *self, int fd)
{
    for (Py_ssize_t i = 0; i < self->used; i++)
        if (self->ports[i]->fd == fd)
            return i;
    return -1;
}

/* Takes port i out of the set; returns its outcome (NULL with an exception set). */
static PyObject *take(Streams *self, Py_ssize_t i)
{
    Port *port = self->ports[i];
    PyObject *outcome = outcome_of(port);
    self->ports[i] = self->ports[--self->used];
    port_free(port);
    return outcome;
}

/* Fills `out` with the Py_ssize_t values of a tuple of ints; -1 on error (exception set). */
static int ints_of(PyObject *tuple, Py_ssize_t *out, Py_ssize_t count)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        out[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(tuple, i));
        if (out[i] == -1 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

static PyObject *streams_start(Streams *self, PyObject *args)
{
    int fd, slots;
    Py_ssize_t max_bytes;
    PyObject *lines, *ends, *flight;
    double quiet, quiet_after_ok;
    if (!PyArg_ParseTuple(args, "iO!O!O!indd", &fd, &PyBytes_Type, &lines, &PyTuple_Type, &ends, &PyTuple_Type,
                          &flight, &slots, &max_bytes, &quiet, &quiet_after_ok))
        return NULL;
    if (find(self, fd) >= 0) {
        PyErr_Format(PyExc_ValueError, "port %d already has a burst", fd);
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(ends), flying = PyTuple_GET_SIZE(flight);
    Port *port = PyMem_Calloc(1, sizeof(Port));
    if (port == NULL)
        return PyErr_NoMemory();
    port->ends = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(count + 1));
    port->sizes = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(count + flying + 1));
    port->oks_before = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(count + 1));
    if (!port->ends || !port->sizes || !port->oks_before) {
        port_free(port);
        return PyErr_NoMemory();
    }
    if (ints_of(ends, port->ends, count) < 0 || ints_of(flight, port->sizes, flying) < 0) {
        port_free(port);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (port->ends[i] <= (i ? port->ends[i - 1] : 0) || port->ends[i] > PyBytes_GET_SIZE(lines)) {
            port_free(port);
            PyErr_SetString(PyExc_ValueError, "ends must rise within lines");
            return NULL;
        }
    }
    Py_INCREF(lines);
    port->lines = lines;
    port->data = PyBytes_AS_STRING(lines);
    port->fd = fd;
    port->count = count;
    port->last = flying;
    for (Py_ssize_t i = 0; i < flying; i++)
        port->in_flight += port->sizes[i];
    port->slots = slots;
    port->max_bytes = max_bytes;
    port->last_ok = monotonic();
    port->deadline = quiet < 0 ? -1.0 : port->last_ok + quiet;
    port->quiet_after_ok = quiet_after_ok;
    port->stop = RUNNING;
    if (self->used == self->capacity) {
        Py_ssize_t capacity = self->capacity ? self->capacity * 2 : 8;
        Port **grown = PyMem_Realloc(self->ports, sizeof(Port *) * (size_t)capacity);
        if (grown == NULL) {
            port_free(port);
            return PyErr_NoMemory();
        }
        self->ports = grown;
        self->capacity = capacity;
    }
    self->ports[self->used++] = port;
    Py_RETURN_NONE;
}

static PyObject *streams_stop(Streams *self, PyObject *args)
{
    int fd;
    if (!PyArg_ParseTuple(args, "i", &fd))
        return NULL;
    Py_ssize_t i = find(self, fd);
    if (i < 0)
        Py_RETURN_NONE;
    return take(self, i);
}

static PyObject *streams_run(Streams *self, PyObject *args)
{
    int wake_fd;
    PyObject *watch;
    double timeout;
    if (!PyArg_ParseTuple(args, "iO!d", &wake_fd, &PyTuple_Type, &watch, &timeout))
        return NULL;
    Py_ssize_t watched = PyTuple_GET_SIZE(watch), total = 1 + watched + self->used;
    if (total > self->watch_capacity) {
        struct pollfd *grown = PyMem_Realloc(self->watch, sizeof(struct pollfd) * (size_t)total);
        if (grown == NULL)
            return PyErr_NoMemory();
        self->watch = grown;
        self->watch_capacity = total;
    }
    struct pollfd *fds = self->watch;
    fds[0] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
    for (Py_ssize_t i = 0; i < watched; i++) {
        int fd, events;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(watch, i), "ii", &fd, &events))
            return NULL;
        fds[1 + i] = (struct pollfd){.fd = fd, .events = (short)events};
    }
    Port **ports = self->ports;
    Py_ssize_t used = self->used;
    int woken = 0, stopped = 0, failed = 0;
    double start = monotonic(), until = timeout < 0 ? -1.0 : start + timeout;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < used; i++) {
        port_send(ports[i]);
        stopped |= ports[i]->stop != RUNNING;
    }
    while (!stopped) {
        double now = monotonic(), first_deadline = until;
        for (Py_ssize_t i = 0; i < used; i++) {
            double deadline = ports[i]->deadline;
            if (deadline >= 0 && (first_deadline < 0 || deadline < first_deadline))
                first_deadline = deadline;
            fds[1 + watched + i] = (struct pollfd){.fd = ports[i]->fd, .events = POLLIN};
        }
        int wait = -1;
        if (first_deadline >= 0)
            wait = first_deadline <= now ? 0 : (int)((first_deadline - now) * 1000) + 1;
        int ready = poll(fds, (nfds_t)(1 + watched + used), wait);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            failed = errno;
            break;
        }
        now = monotonic();
        woken = fds[0].revents != 0;
        for (Py_ssize_t i = 0; i < watched; i++)
            if (fds[1 + i].revents)
                woken = 1;
        for (Py_ssize_t i = 0; i < used; i++) {
            Port *port = ports[i];
            short revents = fds[1 + watched + i].revents;
            if (revents) {
                port_read(port, revents, now);
                if (port->stop == RUNNING)
                    port_send(port);
            }
            if (port->stop == RUNNING && port->deadline >= 0 && now >= port->deadline)
                port->stop = QUIET;
            stopped |= port->stop != RUNNING;
        }
        if (woken || (until >= 0 && now >= until))
            break;
    }
    Py_END_ALLOW_THREADS

    if (failed) {
        errno = failed;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *ready = PyList_New(0), *outcomes = PyList_New(0);
    if (ready == NULL || outcomes == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < watched; i++) {
        if (fds[1 + i].revents) {
            PyObject *pair = Py_BuildValue("(ii)", fds[1 + i].fd, fds[1 + i].revents);
            if (pair == NULL || PyList_Append(ready, pair) < 0) {
                Py_XDECREF(pair);
                goto fail;
            }
            Py_DECREF(pair);
        }
    }
    for (Py_ssize_t i = self->used - 1; i >= 0; i--) {
        if (self->ports[i]->stop != RUNNING) {
            PyObject *outcome = take(self, i);
            if (outcome == NULL || PyList_Append(outcomes, outcome) < 0) {
                Py_XDECREF(outcome);
                goto fail;
            }
            Py_DECREF(outcome);
        }
    }
    return Py_BuildValue("ONN", fds[0].revents ? Py_True : Py_False, ready, outcomes);
fail:
    Py_XDECREF(ready);
    Py_XDECREF(outcomes);
    return NULL;
}

static PyObject *streams_len(Streams *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(self->used);
}

static void streams_dealloc(Streams *self)
{
    for (Py_ssize_t i = 0; i < self->used; i++)
        port_free(self->ports[i]);
    PyMem_Free(self->ports);
    PyMem_Free(self->watch);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef streams_methods[] = {
    {"start", (PyCFunction)streams_start, METH_VARARGS, "Start a port's burst."},
    {"run", (PyCFunction)streams_run, METH_VARARGS, "Run the bursts until one stops or a watched fd is ready."},
    {"stop", (PyCFunction)streams_stop, METH_VARARGS, "End a port's burst where it stands; its outcome, or None."},
    {"running", (PyCFunction)streams_len, METH_NOARGS, "How many bursts run."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StreamsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "farmctl._hotloop.Streams",
    .tp_doc = "The bursts of many ports, run together (see farmctl/hotloop.py).",
    .tp_basicsize = sizeof(Streams),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)streams_dealloc,
    .tp_methods = streams_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "farmctl._hotloop", "farmctl's hot loop in C (see farmctl/hotloop.py).", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__hotloop(void)
{
    if (PyType_Ready(&StreamsType) < 0)
        return NULL;
    PyObject *created = PyModule_Create(&module);
    if (created == NULL)
        return NULL;
    Py_INCREF(&StreamsType);
    if (PyModule_AddObject(created, "Streams", (PyObject *)&StreamsType) < 0) {
        Py_DECREF(&StreamsType);
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
