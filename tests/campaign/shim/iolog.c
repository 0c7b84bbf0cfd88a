/* An LD_PRELOAD shim for the campaign's T3 (power loss) and T15 (disk full) tests.
 *
 * For files under the directory IOLOG_DIR it logs, in the order the process issues them, every
 * call that changes what a disk would hold: writes (with their bytes), truncations, fsyncs,
 * unlinks and renames. Each record goes to IOLOG_FILE before the real call is made, so a test
 * can replay any prefix of the log and keep only what was synced (tests/campaign/test_power_loss.py).
 *
 * A record is a little-endian header  u8 op, u32 path length, i64 offset, u64 length,  then the
 * path, then for a write its bytes (offset -1: the file's current position). For a rename the
 * "data" is the new path. Ops: see the enum below; the test parses them with struct "<BIqQ".
 *
 * Disk full (T15): with IOLOG_ENOSPC_AT=N, the N-th write under the directory fails with ENOSPC
 * without writing, and the shim creates the file IOLOG_FULL_FLAG: while that file exists every
 * write under the directory fails the same way. Deleting it frees the space; with
 * IOLOG_ENOSPC_EVERY=S the disk fills again S writes later. Failed writes are not logged.
 *
 * sqlcipher3's bundled SQLite calls open64, pwrite64, write, fsync (not fdatasync), ftruncate64,
 * unlink and close; the others are wrapped for Python's own file calls and for other builds.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_TRUNCATE = 2, OP_SYNC = 3, OP_UNLINK = 4, OP_RENAME = 5, OP_OPEN = 6 };

#define MAX_FD 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *paths[MAX_FD];             /* fd -> absolute path, for files under the directory */
static char dir[4096];
static size_t dir_len;
static char flag[4096];
static int log_fd = -1;
static long long enospc_at, enospc_every, writes;
static int ready;

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_creat)(const char *, mode_t);
static int (*real_creat64)(const char *, mode_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_close)(int);

static void setup(void) {
    real_open = dlsym(RTLD_NEXT, "open");
    real_open64 = dlsym(RTLD_NEXT, "open64");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_openat64 = dlsym(RTLD_NEXT, "openat64");
    real_creat = dlsym(RTLD_NEXT, "creat");
    real_creat64 = dlsym(RTLD_NEXT, "creat64");
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_pwritev = dlsym(RTLD_NEXT, "pwritev");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
    real_rename = dlsym(RTLD_NEXT, "rename");
    real_renameat = dlsym(RTLD_NEXT, "renameat");
    real_close = dlsym(RTLD_NEXT, "close");
    const char *d = getenv("IOLOG_DIR"), *f = getenv("IOLOG_FILE"), *full = getenv("IOLOG_FULL_FLAG");
    const char *at = getenv("IOLOG_ENOSPC_AT"), *every = getenv("IOLOG_ENOSPC_EVERY");
    if (!d || !realpath(d, dir))
        return;
    dir_len = strlen(dir);
    if (f && *f)
        log_fd = real_open(f, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (full)
        snprintf(flag, sizeof flag, "%s", full);
    enospc_at = at ? atoll(at) : 0;
    enospc_every = every ? atoll(every) : 0;
    ready = 1;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Resolved before the first wrapped call, which may come before this library's constructor ran. */
#define INIT pthread_once(&once, setup)

__attribute__((constructor)) static void start(void) { INIT; }

/* The absolute path of `path` (relative to `dirfd`) if it lies under the directory, else NULL. */
static char *under(int dirfd, const char *path) {
    char joined[8192], resolved[4096], parent[4096];
    if (!ready || !path)
        return NULL;
    if (path[0] == '/')
        snprintf(joined, sizeof joined, "%s", path);
    else if (dirfd == AT_FDCWD || dirfd < 0) {
        if (!getcwd(resolved, sizeof resolved))
            return NULL;
        snprintf(joined, sizeof joined, "%s/%s", resolved, path);
    } else if (dirfd < MAX_FD && paths[dirfd])
        snprintf(joined, sizeof joined, "%s/%s", paths[dirfd], path);
    else
        return NULL;
    /* The file may not exist yet (or any more): resolve its folder, keep its name. */
    char *slash = strrchr(joined, '/');
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - joined), joined);
    if (!realpath(*parent ? parent : "/", resolved))
        return NULL;
    if (strncmp(resolved, dir, dir_len) != 0 || (resolved[dir_len] != '/' && resolved[dir_len] != '\0'))
        return NULL;
    size_t n = strlen(resolved);
    snprintf(resolved + n, sizeof resolved - n, "/%s", slash + 1);
    return strdup(resolved);
}

/* One record, whole, before the call it describes (see the top of this file). */
static void emit(uint8_t op, const char *path, int64_t offset, const void *data, uint64_t length) {
    if (log_fd < 0)
        return;
    uint32_t path_len = (uint32_t)strlen(path);
    size_t size = 21 + path_len + (data ? length : 0);
    unsigned char *record = malloc(size);
    if (!record)
        abort();  /* a log with a hole would replay a disk that never was */
    record[0] = op;
    memcpy(record + 1, &path_len, 4);
    memcpy(record + 5, &offset, 8);
    memcpy(record + 13, &length, 8);
    memcpy(record + 21, path, path_len);
    if (data)
        memcpy(record + 21 + path_len, data, length);
    for (size_t done = 0; done < size;) {
        ssize_t n = real_write(log_fd, record + done, size - done);
        if (n < 0 && errno != EINTR)
            abort();
        done += n > 0 ? (size_t)n : 0;
    }
    free(record);
}

static const char *watched(int fd) { return ready && fd >= 0 && fd < MAX_FD ? paths[fd] : NULL; }

static void remember(int fd, char *path, int flags) {
    if (!path)
        return;
    if (fd < 0 || fd >= MAX_FD) {
        free(path);
        return;
    }
    free(paths[fd]);
    paths[fd] = path;
    if (flags & O_CREAT)
        emit(OP_OPEN, path, flags, NULL, 0);
    if (flags & O_TRUNC)
        emit(OP_TRUNCATE, path, 0, NULL, 0);
}

/* Whether this write must fail as on a full disk; counts the writes tried while it is not full. */
static long long next_fault;
static int armed = -1, fired;
static int disk_full(void) {
    if (armed < 0) {
        armed = enospc_at > 0;
        next_fault = enospc_at;
    }
    if (flag[0] && access(flag, F_OK) == 0)
        return 1;
    if (fired && !armed && enospc_every > 0) {  /* the space was freed: it fills again later */
        next_fault = writes + enospc_every;
        armed = 1;
    }
    writes++;
    if (!armed || writes != next_fault)
        return 0;
    armed = 0;
    fired = 1;
    if (flag[0]) {
        int made = real_open(flag, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (made >= 0)
            real_close(made);
    }
    return 1;
}

static int64_t position(int fd) {
    if (fcntl(fd, F_GETFL) & O_APPEND) {
        struct stat st;
        return fstat(fd, &st) == 0 ? (int64_t)st.st_size : -1;
    }
    return (int64_t)lseek(fd, 0, SEEK_CUR);
}

/* Before a write: 0 if the file is not watched; -1 if refused (errno is ENOSPC); 1 if logged,
 * with the lock held until end() so that the log's order is the order of the real calls. */
static int begin(int fd, int64_t offset, const void *data, size_t length) {
    const char *path = watched(fd);
    if (!path)
        return 0;
    pthread_mutex_lock(&lock);
    if (disk_full()) {
        pthread_mutex_unlock(&lock);
        errno = ENOSPC;
        return -1;
    }
    emit(OP_WRITE, path, offset == -1 ? position(fd) : offset, data, length);
    return 1;
}

/* Before any other call on a watched file: logged, the lock held until end(). */
static int begin_op(uint8_t op, int fd, int64_t offset) {
    const char *path = watched(fd);
    if (!path)
        return 0;
    pthread_mutex_lock(&lock);
    emit(op, path, offset, NULL, 0);
    return 1;
}

static void end(int held) {
    if (held)
        pthread_mutex_unlock(&lock);
}

static mode_t mode_of(int flags, va_list ap) { return flags & (O_CREAT | O_TMPFILE) ? (mode_t)va_arg(ap, int) : 0; }

static int opened(int fd, int dirfd, const char *path, int flags) {
    if (fd >= 0 && ready) {
        pthread_mutex_lock(&lock);
        remember(fd, under(dirfd, path), flags);
        pthread_mutex_unlock(&lock);
    }
    return fd;
}

int open(const char *path, int flags, ...) {
    INIT;
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    return opened(real_open(path, flags, mode), AT_FDCWD, path, flags);
}

int open64(const char *path, int flags, ...) {
    INIT;
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    return opened(real_open64(path, flags, mode), AT_FDCWD, path, flags);
}

int openat(int dirfd, const char *path, int flags, ...) {
    INIT;
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    return opened(real_openat(dirfd, path, flags, mode), dirfd, path, flags);
}

int openat64(int dirfd, const char *path, int flags, ...) {
    INIT;
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    return opened(real_openat64(dirfd, path, flags, mode), dirfd, path, flags);
}

int creat(const char *path, mode_t mode) {
    INIT;
    return opened(real_creat(path, mode), AT_FDCWD, path, O_CREAT | O_TRUNC | O_WRONLY);
}

int creat64(const char *path, mode_t mode) {
    INIT;
    return opened(real_creat64(path, mode), AT_FDCWD, path, O_CREAT | O_TRUNC | O_WRONLY);
}

ssize_t write(int fd, const void *data, size_t length) {
    INIT;
    int held = begin(fd, -1, data, length);
    if (held < 0)
        return -1;
    ssize_t result = real_write(fd, data, length);
    end(held);
    return result;
}

ssize_t pwrite(int fd, const void *data, size_t length, off_t offset) {
    INIT;
    int held = begin(fd, offset, data, length);
    if (held < 0)
        return -1;
    ssize_t result = real_pwrite(fd, data, length, offset);
    end(held);
    return result;
}

ssize_t pwrite64(int fd, const void *data, size_t length, off_t offset) {
    INIT;
    int held = begin(fd, offset, data, length);
    if (held < 0)
        return -1;
    ssize_t result = real_pwrite64(fd, data, length, offset);
    end(held);
    return result;
}

static void *gathered(const struct iovec *iov, int count, size_t *length) {
    *length = 0;
    for (int i = 0; i < count; i++)
        *length += iov[i].iov_len;
    char *buffer = malloc(*length ? *length : 1);
    if (!buffer)
        abort();
    for (size_t i = 0, at = 0; i < (size_t)count; at += iov[i].iov_len, i++)
        memcpy(buffer + at, iov[i].iov_base, iov[i].iov_len);
    return buffer;
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
    INIT;
    if (!watched(fd))
        return real_writev(fd, iov, count);
    size_t length;
    void *data = gathered(iov, count, &length);
    int held = begin(fd, -1, data, length);
    free(data);
    if (held < 0)
        return -1;
    ssize_t result = real_writev(fd, iov, count);
    end(held);
    return result;
}

ssize_t pwritev(int fd, const struct iovec *iov, int count, off_t offset) {
    INIT;
    if (!watched(fd))
        return real_pwritev(fd, iov, count, offset);
    size_t length;
    void *data = gathered(iov, count, &length);
    int held = begin(fd, offset, data, length);
    free(data);
    if (held < 0)
        return -1;
    ssize_t result = real_pwritev(fd, iov, count, offset);
    end(held);
    return result;
}

int ftruncate(int fd, off_t length) {
    INIT;
    int held = begin_op(OP_TRUNCATE, fd, length);
    int result = real_ftruncate(fd, length);
    end(held);
    return result;
}

int ftruncate64(int fd, off_t length) {
    INIT;
    int held = begin_op(OP_TRUNCATE, fd, length);
    int result = real_ftruncate64(fd, length);
    end(held);
    return result;
}

int fsync(int fd) {
    INIT;
    int held = begin_op(OP_SYNC, fd, 0);
    int result = real_fsync(fd);
    end(held);
    return result;
}

int fdatasync(int fd) {
    INIT;
    int held = begin_op(OP_SYNC, fd, 0);
    int result = real_fdatasync(fd);
    end(held);
    return result;
}

static int named(uint8_t op, char *path, const char *to) {
    if (!path)
        return 0;
    pthread_mutex_lock(&lock);
    emit(op, path, -1, to, to ? strlen(to) : 0);
    free(path);
    return 1;
}

int unlink(const char *path) {
    INIT;
    int held = named(OP_UNLINK, under(AT_FDCWD, path), NULL);
    int result = real_unlink(path);
    end(held);
    return result;
}

int unlinkat(int dirfd, const char *path, int flags) {
    INIT;
    int held = named(OP_UNLINK, under(dirfd, path), NULL);
    int result = real_unlinkat(dirfd, path, flags);
    end(held);
    return result;
}

static int moved(int from_dir, const char *from, int to_dir, const char *to) {
    char *source = under(from_dir, from), *target = under(to_dir, to);
    int held = 0;
    if (source || target) {
        /* A file moved in or out of the directory: its bytes were never logged, so log the name only. */
        held = named(OP_RENAME, source ? source : strdup(""), target ? target : "");
    }
    free(target);
    return held;
}

int rename(const char *from, const char *to) {
    INIT;
    int held = moved(AT_FDCWD, from, AT_FDCWD, to);
    int result = real_rename(from, to);
    end(held);
    return result;
}

int renameat(int from_dir, const char *from, int to_dir, const char *to) {
    INIT;
    int held = moved(from_dir, from, to_dir, to);
    int result = real_renameat(from_dir, from, to_dir, to);
    end(held);
    return result;
}

int close(int fd) {
    INIT;
    if (ready && fd >= 0 && fd < MAX_FD && paths[fd]) {
        pthread_mutex_lock(&lock);
        free(paths[fd]);
        paths[fd] = NULL;
        pthread_mutex_unlock(&lock);
    }
    return real_close(fd);
}
