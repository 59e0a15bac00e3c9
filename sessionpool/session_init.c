/* The init (PID 1) of a session's PID namespace, as small as an init can be.
 *
 * The session's first process is a fork of the fork server: it builds the session's root,
 * forks the kernel, then replaces itself with this program, so that the session does not keep
 * a second copy of the interpreter's page tables and of the pages that process touched.
 *
 *     session-init KERNEL_PID STATUS_FD
 *
 * It reaps whatever ends in the session; when the kernel ends it writes how ("exited with
 * status N", "killed by signal N (name)") to STATUS_FD, whose read end only the pool holds, and
 * exits; it also exits when the pool closes that read end (or dies). PID 1 exiting ends every
 * process of the session. It installs no signal handler: the session's own processes cannot
 * signal it (only SIGCHLD is blocked, read through a signalfd). Built by `make session-env`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(int status_fd, int status) {
    char text[128];
    int length;
    if (WIFSIGNALED(status)) {
        int number = WTERMSIG(status);
        length = snprintf(text, sizeof text, "killed by signal %d (%s)", number, strsignal(number));
    } else {
        length = snprintf(text, sizeof text, "exited with status %d", WEXITSTATUS(status));
    }
    if (length > 0) {
        ssize_t ignored = write(status_fd, text, (size_t)length);
        (void)ignored;
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        return 2;
    }
    pid_t kernel = (pid_t)atoi(argv[1]);
    int status_fd = atoi(argv[2]);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
        return 1;
    }
    int wake = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (wake < 0) {
        return 1;
    }
    /* Only POLLERR is asked of the status pipe's write end: there is no reader left. */
    struct pollfd watched[2] = {{status_fd, 0, 0}, {wake, POLLIN, 0}};
    for (;;) {
        /* Reap first: a child may have ended before SIGCHLD was blocked. */
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == kernel) {
                report(status_fd, status);
                return 0;
            }
        }
        if (pid < 0 && errno == ECHILD) {
            return 0; /* nothing left to wait for */
        }
        if (poll(watched, 2, -1) < 0 && errno != EINTR) {
            return 1;
        }
        if (watched[0].revents) {
            return 0; /* the pool is gone */
        }
        struct signalfd_siginfo info;
        while (read(wake, &info, sizeof info) == (ssize_t)sizeof info) {
        }
    }
}
