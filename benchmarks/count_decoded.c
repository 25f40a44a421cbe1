/* Counts the frames FFmpeg's decoders output in this process: every avcodec_receive_frame() that
 * returns a frame, whoever calls it (PyAV, decord, torchcodec, libavformat probing a stream).
 *
 * Loaded with LD_PRELOAD by benchmarks/bench_data.py, which compiles it:
 *     cc -shared -fPIC -O2 -o count_decoded.so count_decoded.c -ldl -lpthread
 * Several FFmpeg builds can live in one process (decord bundles FFmpeg 4.1, PyAV FFmpeg 8), so the
 * real function is looked up in the calling library's own dependencies, not by RTLD_NEXT.
 * count_decoded_frames() returns the count (read through ctypes).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*receive_frame_fn)(void *codec_context, void *frame);

static long long decoded_frames;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *caller_base;
    receive_frame_fn real;
} callers[32];
static int num_callers;

int avcodec_receive_frame(void *codec_context, void *frame);

static receive_frame_fn real_receive_frame(void *return_address) {
    Dl_info info;
    receive_frame_fn real = NULL;
    if (!dladdr(return_address, &info)) {
        fprintf(stderr, "count_decoded: cannot tell which library called avcodec_receive_frame\n");
        abort();
    }
    pthread_mutex_lock(&lock);
    for (int i = 0; i < num_callers; i++) {
        if (callers[i].caller_base == info.dli_fbase) {
            real = callers[i].real;
            break;
        }
    }
    if (real == NULL) {
        void *caller = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
        real = caller ? (receive_frame_fn)dlsym(caller, "avcodec_receive_frame") : NULL;
        if (real == NULL || real == avcodec_receive_frame || num_callers == 32) {
            fprintf(stderr, "count_decoded: no avcodec_receive_frame among the dependencies of %s\n", info.dli_fname);
            abort();
        }
        callers[num_callers].caller_base = info.dli_fbase;
        callers[num_callers].real = real;
        num_callers++;
    }
    pthread_mutex_unlock(&lock);
    return real;
}

int avcodec_receive_frame(void *codec_context, void *frame) {
    int result = real_receive_frame(__builtin_return_address(0))(codec_context, frame);
    if (result == 0)
        __atomic_add_fetch(&decoded_frames, 1, __ATOMIC_RELAXED);
    return result;
}

long long count_decoded_frames(void) {
    return __atomic_load_n(&decoded_frames, __ATOMIC_RELAXED);
}
