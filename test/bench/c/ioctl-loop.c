// The C baseline of the binding benchmark: the same ioctls the JS side makes,
// in a timed loop. Prints the nanoseconds per call.
//   ioctl-loop fionread FIFO N   FIONREAD on the FIFO (pipe_ioctl: an int out)
//   ioctl-loop ifflags N         SIOCGIFFLAGS "lo" on an AF_UNIX socket
//                                (struct ifreq, 40 bytes, copied in and out)
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: ioctl-loop fionread FIFO N | ifflags N\n");
    return 2;
  }
  int fionread = strcmp(argv[1], "fionread") == 0;
  long n = atol(argv[fionread ? 3 : 2]);
  int fd = fionread ? open(argv[2], O_RDWR | O_CLOEXEC) : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || n <= 0) {
    perror("ioctl-loop");
    return 1;
  }
  unsigned long sum = 0;
  double t0 = now_ns();
  for (long i = 0; i < n; i++) {
    if (fionread) {
      int avail;
      if (ioctl(fd, FIONREAD, &avail) < 0) return perror("FIONREAD"), 1;
      sum += (unsigned)avail;
    } else {
      // A fresh struct per call, as the JS side fills its buffer per call.
      struct ifreq ifr;
      memset(&ifr, 0, sizeof ifr);
      strcpy(ifr.ifr_name, "lo");
      if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) return perror("SIOCGIFFLAGS"), 1;
      sum += (unsigned short)ifr.ifr_flags;
    }
  }
  double t1 = now_ns();
  printf("%.3f %lu\n", (t1 - t0) / n, sum);
  return 0;
}
