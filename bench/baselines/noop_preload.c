/*
 * The do-nothing C preload: what every process pays just for having one more
 * library in LD_PRELOAD (the loader maps it, relocates it and runs an empty
 * constructor). This is the floor any LD_PRELOAD tracer written in C starts
 * from; XALT's library sits above it. bench/run.sh builds it into
 * build/bench/libnoop_preload.so with: gcc -O2 -shared -fPIC.
 */
__attribute__((constructor)) static void noop_preload_init(void) {}
