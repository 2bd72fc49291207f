/*
 * insncount.c - pyprune's instruction counter: a QEMU TCG plugin (plugin API version 1, QEMU 7.2
 * linux-user) that counts the guest instructions an aarch64 program executes.
 *
 *  - Fast: one inline "add N" per executed translation block (N = number of
 *    guest instructions in the TB), no helper calls on the hot path.
 *  - Per shared object: every TB is attributed at translation time to the
 *    host file mapping (/proc/self/maps of the QEMU process) that holds its
 *    code, found through qemu_plugin_insn_haddr(), so guest_base does not
 *    matter.  Each mapped file gets its own counter; the inline op adds to
 *    that counter.  The total is the sum over all counters.
 *  - Markers: the guest can snapshot all counters by issuing a system call
 *    with an otherwise unused number (default 7911), e.g. from Python:
 *    ctypes.CDLL(None).syscall(7911, tag).  QEMU answers -ENOSYS to the
 *    guest; the plugin records (tag, counters).  Instructions between two
 *    markers = difference of the two snapshots (the marker call's own few
 *    instructions included: measure an empty region and subtract it).
 *
 * Arguments (-plugin ./insncount.so,arg=value,...):
 *   out=PATH      write a JSON report to PATH at exit (default: none)
 *   lib=SUBSTR    also print the count for mappings whose path contains
 *                 SUBSTR (may be given up to 8 times)
 *   marker=NUM    system call number used as marker (default 7911)
 *   top=N         number of shared objects listed on stderr (default 12)
 *   quiet=1       print nothing on stderr
 *
 * Output on stderr at exit:  "insncount: total <N>", per-object lines and one
 * "insncount: mark A -> B : N" line per pair of consecutive markers.
 *
 * Built by setup.sh beside this file:
 *   gcc -O2 -shared -fPIC -I<dir holding qemu/qemu-plugin.h> \
 *       $(pkg-config --cflags glib-2.0) -o insncount.so insncount.c
 *
 * Counting is exact for single-threaded guests.  With several guest threads
 * running at once the non-atomic inline adds can lose a few counts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <pthread.h>
#include <glib.h>

#include <qemu/qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_OBJS   4096          /* distinct mapped files (+ anon)         */
#define MAX_MAPS   65536         /* mapping ranges kept for lookup         */
#define MAX_LIBF   8

typedef struct {
    uint64_t start, end;         /* host addresses [start, end)            */
    int obj;                     /* index into objs[]                      */
} MapRange;

/* counters live in a static array: inline ops keep raw pointers into it */
static uint64_t counts[MAX_OBJS] __attribute__((aligned(64)));
static char *objs[MAX_OBJS];
static int nobjs;

static MapRange maps[MAX_MAPS];
static int nmaps;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    uint64_t tag;
    uint64_t *snap;              /* copy of counts[0..nobjs) at the marker */
    int nobjs;
} Mark;
static GArray *marks;

static const char *out_path;
static const char *lib_filters[MAX_LIBF];
static int nlibf;
static int64_t marker_no = 7911;
static int top_n = 12;
static int quiet;
static uint64_t n_tbs_translated, n_reread;

static int obj_index(const char *name)
{
    for (int i = 0; i < nobjs; i++) {
        if (strcmp(objs[i], name) == 0) {
            return i;
        }
    }
    if (nobjs == MAX_OBJS - 1) {  /* the last counter: every further file */
        objs[nobjs++] = g_strdup("[other files]");
    }
    if (nobjs == MAX_OBJS) {
        return MAX_OBJS - 1;
    }
    objs[nobjs] = g_strdup(name);
    return nobjs++;
}

static int cmp_range(const void *a, const void *b)
{
    const MapRange *x = a, *y = b;
    return x->start < y->start ? -1 : (x->start > y->start ? 1 : 0);
}

/*
 * (re)read /proc/self/maps of the QEMU process.  All ranges are kept: QEMU
 * linux-user does not necessarily map guest code with host PROT_EXEC.
 */
static void reread_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    n_reread++;
    nmaps = 0;
    if (!f) {
        return;
    }
    while (fgets(line, sizeof(line), f) && nmaps < MAX_MAPS) {
        unsigned long long s, e;
        char perms[8] = "";
        int pos = 0;
        if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &s, &e, perms,
                   &pos) < 3) {
            continue;
        }
        char *path = line + pos;
        path[strcspn(path, "\n")] = 0;
        while (*path == ' ') {
            path++;
        }
        maps[nmaps].start = s;
        maps[nmaps].end = e;
        maps[nmaps].obj = obj_index(*path ? path : "[anon]");
        nmaps++;
    }
    fclose(f);
    qsort(maps, nmaps, sizeof(MapRange), cmp_range);
}

static int lookup(uint64_t haddr)
{
    int lo = 0, hi = nmaps - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (haddr < maps[mid].start) {
            hi = mid - 1;
        } else if (haddr >= maps[mid].end) {
            lo = mid + 1;
        } else {
            return maps[mid].obj;
        }
    }
    return -1;
}

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    int obj;
    uint64_t haddr = 0;

    if (n == 0) {
        return;
    }
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, 0);
    void *h = qemu_plugin_insn_haddr(insn);
    haddr = (uint64_t)(uintptr_t)h;

    pthread_mutex_lock(&lock);
    n_tbs_translated++;
    if (!h) {
        obj = obj_index("[no-haddr]");
    } else {
        obj = lookup(haddr);
        if (obj < 0) {
            reread_maps();
            obj = lookup(haddr);
        }
        if (obj < 0) {
            obj = obj_index("[unmapped]");
        }
    }
    pthread_mutex_unlock(&lock);

    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                             &counts[obj], n);
}

static uint64_t sum_counts(const uint64_t *c, int n)
{
    uint64_t t = 0;
    for (int i = 0; i < n; i++) {
        t += c[i];
    }
    return t;
}

static void vcpu_syscall(qemu_plugin_id_t id, unsigned int vcpu_index,
                         int64_t num, uint64_t a1, uint64_t a2,
                         uint64_t a3, uint64_t a4, uint64_t a5,
                         uint64_t a6, uint64_t a7, uint64_t a8)
{
    if (num != marker_no) {
        return;
    }
    pthread_mutex_lock(&lock);
    Mark m;
    m.tag = a1;
    m.nobjs = nobjs;
    m.snap = g_new(uint64_t, nobjs > 0 ? nobjs : 1);
    memcpy(m.snap, counts, sizeof(uint64_t) * nobjs);
    g_array_append_val(marks, m);
    pthread_mutex_unlock(&lock);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
        }
        if ((unsigned char)*s < 0x20) {
            fprintf(f, "\\u%04x", *s);
        } else {
            fputc(*s, f);
        }
    }
    fputc('"', f);
}

static int cmp_idx_desc(const void *a, const void *b)
{
    uint64_t x = counts[*(const int *)a], y = counts[*(const int *)b];
    return x > y ? -1 : (x < y ? 1 : 0);
}

static void plugin_exit(qemu_plugin_id_t id, void *p)
{
    uint64_t total = sum_counts(counts, nobjs);

    if (!quiet) {
        fprintf(stderr, "insncount: total %" PRIu64 "\n", total);
        for (int k = 0; k < nlibf; k++) {
            uint64_t t = 0;
            for (int i = 0; i < nobjs; i++) {
                if (strstr(objs[i], lib_filters[k])) {
                    t += counts[i];
                }
            }
            fprintf(stderr, "insncount: lib[%s] %" PRIu64 "\n",
                    lib_filters[k], t);
        }
        int *idx = g_new(int, nobjs + 1);
        for (int i = 0; i < nobjs; i++) {
            idx[i] = i;
        }
        qsort(idx, nobjs, sizeof(int), cmp_idx_desc);
        for (int i = 0; i < nobjs && i < top_n; i++) {
            if (counts[idx[i]] == 0) {
                break;
            }
            fprintf(stderr, "insncount:   %15" PRIu64 "  %s\n",
                    counts[idx[i]], objs[idx[i]]);
        }
        g_free(idx);
        for (guint i = 1; i < marks->len; i++) {
            Mark *a = &g_array_index(marks, Mark, i - 1);
            Mark *b = &g_array_index(marks, Mark, i);
            fprintf(stderr, "insncount: mark %" PRIu64 " -> %" PRIu64
                    " : %" PRIu64 "\n", a->tag, b->tag,
                    sum_counts(b->snap, b->nobjs) -
                    sum_counts(a->snap, a->nobjs));
        }
        fflush(stderr);
    }

    if (out_path) {
        FILE *f = fopen(out_path, "w");
        if (!f) {
            fprintf(stderr, "insncount: cannot write %s\n", out_path);
            return;
        }
        fprintf(f, "{\n \"total\": %" PRIu64 ",\n \"tbs_translated\": %"
                PRIu64 ",\n \"maps_rereads\": %" PRIu64 ",\n \"objs\": [",
                total, n_tbs_translated, n_reread);
        for (int i = 0; i < nobjs; i++) {
            fprintf(f, "%s\n  ", i ? "," : "");
            json_str(f, objs[i]);
        }
        fprintf(f, "],\n \"counts\": [");
        for (int i = 0; i < nobjs; i++) {
            fprintf(f, "%s%" PRIu64, i ? "," : "", counts[i]);
        }
        fprintf(f, "],\n \"marks\": [");
        for (guint i = 0; i < marks->len; i++) {
            Mark *m = &g_array_index(marks, Mark, i);
            fprintf(f, "%s\n  {\"tag\": %" PRIu64 ", \"total\": %" PRIu64
                    ", \"counts\": {", i ? "," : "", m->tag,
                    sum_counts(m->snap, m->nobjs));
            int first = 1;
            for (int j = 0; j < m->nobjs; j++) {
                if (m->snap[j]) {
                    fprintf(f, "%s\"%d\": %" PRIu64, first ? "" : ", ", j,
                            m->snap[j]);
                    first = 0;
                }
            }
            fprintf(f, "}}");
        }
        fprintf(f, "]\n}\n");
        fclose(f);
    }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        char *opt = argv[i];
        char *eq = strchr(opt, '=');
        if (!eq) {
            fprintf(stderr, "insncount: bad option %s\n", opt);
            return -1;
        }
        size_t kl = eq - opt;
        const char *val = eq + 1;
        if (kl == 3 && !strncmp(opt, "out", 3)) {
            out_path = val;
        } else if (kl == 3 && !strncmp(opt, "lib", 3)) {
            if (nlibf < MAX_LIBF) {
                lib_filters[nlibf++] = val;
            }
        } else if (kl == 6 && !strncmp(opt, "marker", 6)) {
            marker_no = strtoll(val, NULL, 0);
        } else if (kl == 3 && !strncmp(opt, "top", 3)) {
            top_n = atoi(val);
        } else if (kl == 5 && !strncmp(opt, "quiet", 5)) {
            quiet = atoi(val);
        } else {
            fprintf(stderr, "insncount: unknown option %s\n", opt);
            return -1;
        }
    }
    marks = g_array_new(FALSE, FALSE, sizeof(Mark));
    reread_maps();
    qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, vcpu_syscall);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}
