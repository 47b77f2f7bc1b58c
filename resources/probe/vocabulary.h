/* Generated from src/shared/vocabulary.ts and src/shared/probe by `npm run gen:vocab`: do not edit. */
#ifndef SPLICELAB_VOCABULARY_H
#define SPLICELAB_VOCABULARY_H

#define PROBE_PROTOCOL 1
#define PROGRAM_VERSION 1
#define MARKER_BEGIN "splicelab:begin"
#define MARKER_END "splicelab:end"

/* PROBE_LIMITS (src/shared/probe/limits.ts) and MAX_RANGES (src/shared/results.ts). */
#define MAX_OPS 4096
#define MAX_FILES 64
#define MAX_BUFFERS 64
#define MAX_PIPES 64
#define MAX_RUNS 100000
#define MAX_PATTERN_SEQ 1000000
#define PATH_LEN 64
#define MAX_HIST 32
#define DEFAULT_OP_TIMEOUT_MS 60000
#define MAX_RANGES 64

/* PROBE_EXIT: exit codes; a signal N that stops the probe gives 128 + N. */
enum probe_exit {
	EXIT_OK = 0,
	EXIT_USAGE = 2,
	EXIT_SETUP = 3,
	EXIT_TIMEOUT = 4,
	EXIT_INTERNAL = 5,
	EXIT_SIGINT = 130,
	EXIT_SIGTERM = 143,
};

/* TRACEPOINTS, in order: the per-op counts are reported in this order. */
#define NTRACEPOINTS 7
#define TRACEPOINT_NAMES { \
	"syscalls:sys_enter_splice", \
	"syscalls:sys_enter_vmsplice", \
	"syscalls:sys_enter_tee", \
	"filemap:mm_filemap_add_to_page_cache", \
	"filemap:mm_filemap_delete_from_page_cache", \
	"kmem:mm_page_alloc", \
	"kmem:mm_page_free", \
}

/* OPTIONAL_TRACEPOINTS: counted per op, after TRACEPOINTS, where the kernel has them. */
#define NOPTIONAL_TRACEPOINTS 2
#define OPTIONAL_TRACEPOINT_NAMES { \
	"splice:splice_steal", \
	"splice:splice_copy", \
}
#define NALL_TRACEPOINTS (NTRACEPOINTS + NOPTIONAL_TRACEPOINTS)

#endif
