/* farmctl's hot loop in C: the contract of farmctl.hotloop.run_python, without the interpreter lock.
 *
 * run(fd, wake_fd, lines, ends, in_flight, slots, max_bytes, quiet, quiet_after_ok)
 *   -> (stop, sent, unwritten, oks, since_last_ok, rest, oks_before, errno)
 *
 * Sends the lines (back to back in `lines`, each ending at its entry in `ends`) as the window frees:
 * at most `slots` lines and `max_bytes` bytes in flight, counting the transmissions whose sizes
 * `in_flight` lists. Each reply "ok\n" (or "ok\r\n") frees the oldest. Stops at the first other
 * reply, once every line is out, when wake_fd becomes readable, when `quiet` seconds pass (then
 * `quiet_after_ok` after each ok; quiet < 0: no limit), or on a failed read or write (errno,
 * negative for a write). Only plain oks and whole lines are taken; everything else read comes back
 * in `rest`. The rules are the sender's (farmctl/protocol/sender.py); this only executes them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum stop { ALL_SENT = 0, WOKEN = 1, QUIET = 2, OTHER = 3, BLOCKED = 4, GONE = 5 };

#define READ_SIZE 4096

static double monotonic(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
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

static PyObject *run(PyObject *module, PyObject *args)
{
    int fd, wake_fd, slots;
    Py_ssize_t max_bytes;
    Py_buffer lines;
    PyObject *ends_tuple, *flight_tuple;
    double quiet, quiet_after_ok;
    (void)module;
    if (!PyArg_ParseTuple(args, "iiy*O!O!indd", &fd, &wake_fd, &lines, &PyTuple_Type, &ends_tuple,
                          &PyTuple_Type, &flight_tuple, &slots, &max_bytes, &quiet, &quiet_after_ok))
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(ends_tuple), flying = PyTuple_GET_SIZE(flight_tuple);
    Py_ssize_t *ends = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(count + 1));
    Py_ssize_t *sizes = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(count + flying + 1));
    Py_ssize_t *oks_before = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(count + 1));
    char *buffer = PyMem_Malloc(READ_SIZE * 2);
    PyObject *result = NULL;
    if (!ends || !sizes || !oks_before || !buffer) {
        PyErr_NoMemory();
        goto done;
    }
    if (ints_of(ends_tuple, ends, count) < 0 || ints_of(flight_tuple, sizes, flying) < 0)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (ends[i] < (i ? ends[i - 1] : 0) || ends[i] > lines.len) {
            PyErr_SetString(PyExc_ValueError, "ends must rise within lines");
            goto done;
        }
    }

    const char *data = lines.buf;
    Py_ssize_t first = 0, last = flying, in_flight = 0; /* sizes[first:last] are in flight */
    for (Py_ssize_t i = 0; i < flying; i++)
        in_flight += sizes[i];
    Py_ssize_t sent = 0, oks = 0, unwritten = 0, buffered = 0;
    int stop = ALL_SENT, error = 0;
    double start, deadline, last_ok, since_last_ok;

    Py_BEGIN_ALLOW_THREADS
    start = last_ok = monotonic();
    deadline = quiet < 0 ? -1.0 : start + quiet;
    struct pollfd watch[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    for (;;) {
        /* out with every line the window has room for */
        while (sent < count) {
            Py_ssize_t begin = sent ? ends[sent - 1] : 0, size = ends[sent] - begin, flight = last - first;
            if (flight && (flight >= slots || in_flight + size > max_bytes))
                break;
            ssize_t written = write(fd, data + begin, (size_t)size);
            if (written < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                    stop = GONE;
                    error = -errno;
                    goto out;
                }
                written = 0;
            }
            oks_before[sent++] = oks;
            sizes[last++] = size;
            in_flight += size;
            if (written < size) {
                unwritten = size - written;
                stop = BLOCKED;
                goto out;
            }
        }
        if (sent == count) {
            stop = ALL_SENT;
            goto out;
        }
        /* wait for a reply, the wake pipe or the sender's timers */
        int timeout = -1;
        if (deadline >= 0) {
            double left = deadline - monotonic();
            timeout = left <= 0 ? 0 : (int)(left * 1000) + 1;
        }
        int ready = poll(watch, 2, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            stop = GONE;
            error = errno;
            goto out;
        }
        if (ready == 0) {
            if (deadline >= 0 && monotonic() >= deadline) {
                stop = QUIET;
                goto out;
            }
            continue;
        }
        if (watch[1].revents) {
            stop = WOKEN;
            goto out;
        }
        if (!(watch[0].revents & POLLIN)) {
            stop = GONE;
            goto out;
        }
        ssize_t got = read(fd, buffer + buffered, READ_SIZE);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            stop = GONE;
            error = errno;
            goto out;
        }
        if (got == 0) {
            stop = GONE;
            goto out;
        }
        buffered += got;
        /* take the plain oks, each for the oldest line in flight */
        Py_ssize_t taken = 0;
        char *end;
        while ((end = memchr(buffer + taken, '\n', (size_t)(buffered - taken))) != NULL) {
            Py_ssize_t length = end - (buffer + taken);
            if (!is_ok(buffer + taken, length) || first == last) {
                stop = OTHER;
                break;
            }
            taken += length + 1;
            in_flight -= sizes[first++];
            oks++;
            last_ok = monotonic();
            deadline = last_ok + quiet_after_ok;
        }
        memmove(buffer, buffer + taken, (size_t)(buffered - taken));
        buffered -= taken;
        if (stop == OTHER || !may_be_ok(buffer, buffered)) {
            stop = OTHER; /* a longer reply is on its way: the general path reads it */
            goto out;
        }
    }
out:
    since_last_ok = monotonic() - last_ok;
    Py_END_ALLOW_THREADS

    PyObject *before = PyTuple_New(sent);
    if (before == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < sent; i++) {
        PyObject *number = PyLong_FromSsize_t(oks_before[i]);
        if (number == NULL) {
            Py_DECREF(before);
            goto done;
        }
        PyTuple_SET_ITEM(before, i, number);
    }
    result = Py_BuildValue("innndy#Ni", stop, sent, unwritten, oks, since_last_ok, buffer, buffered, before,
                           error);
done:
    PyBuffer_Release(&lines);
    PyMem_Free(ends);
    PyMem_Free(sizes);
    PyMem_Free(oks_before);
    PyMem_Free(buffer);
    return result;
}

static PyMethodDef methods[] = {
    {"run", run, METH_VARARGS, "Run a burst of the steady stream (see farmctl/hotloop.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "farmctl._hotloop", "farmctl's hot loop in C (see farmctl/hotloop.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__hotloop(void)
{
    return PyModule_Create(&module);
}
