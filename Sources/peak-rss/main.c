// peak-rss: runs a program and reports its own peak resident memory.
//
// Usage: peak-rss RESULT-FILE PROGRAM [ARGUMENT...]
//
// Linux carries a process's peak-RSS mark across exec from the address space it
// replaced. A child spawned straight from a large benchmark process therefore
// reports the benchmark's peak as its own (posix_spawn shares the parent's address
// space until exec; fork copies its private pages). This helper is a small,
// freshly executed process that forks, so the program it starts inherits only the
// helper's few private pages and wait4's ru_maxrss is the program's own peak.
// A program that cannot be started exits 127.
//
// The program's standard output and error go to /dev/null. RESULT-FILE receives
// one line, "<peak KiB> <exit code>"; the helper exits with the program's code
// (128 + signal when the program was killed).
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: peak-rss RESULT-FILE PROGRAM [ARGUMENT...]\n");
        return 2;
    }
    // fork, not posix_spawn: a forked child's address space holds only this
    // helper's private pages (posix_spawn's would be this whole process's until exec).
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "peak-rss: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execve(argv[2], &argv[2], environ);
        _exit(127);
    }
    int status = 0;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "peak-rss: wait4: %s\n", strerror(errno));
            return 127;
        }
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *result = fopen(argv[1], "w");
    if (result == NULL) {
        fprintf(stderr, "peak-rss: cannot write %s: %s\n", argv[1], strerror(errno));
        return 127;
    }
    fprintf(result, "%ld %d\n", usage.ru_maxrss, code);
    fclose(result);
    return code;
}
