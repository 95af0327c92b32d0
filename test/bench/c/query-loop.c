// The C side of the query benchmark: VFIO_DEVICE_QUERY_GFX_PLANE on the
// device fd it inherits as fd 3 (the same open file the JS side queries),
// and the decode Display.query() does, in a timed loop. Prints nanoseconds
// per query.
//   query-loop N EXTENDED   EXTENDED 1: argsz 88 with VFIO_GFX_PLANE_FLAG_EXT_INFO
//                           (kernel-patches 0008), as the library asks where probed
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#define VFIO_GFX_PLANE_FLAG_EXT_INFO (1 << 3)

// The extended layout (kernel-patches 0008): the base struct, then from 64 on.
struct plane_info_ext {
  struct vfio_device_gfx_plane_info base;
  uint32_t head, num_heads, src_x, src_y;
  uint64_t flip_seq;
};
_Static_assert(sizeof(struct vfio_device_gfx_plane_info) == 64, "base layout");
_Static_assert(sizeof(struct plane_info_ext) == 88, "extended layout");

// What Display.query() returns, decoded.
struct plane {
  uint32_t drm_format;
  char fourcc[5];
  uint64_t modifier;
  uint32_t width, height, stride, size, x, y;
  int has_hotspot;
  uint32_t hot_x, hot_y;
  uint32_t head, num_heads, src_x, src_y;
  uint64_t flip_seq;
  uint32_t dmabuf_id;
};

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int query(int fd, int extended, struct plane *p) {
  struct plane_info_ext info;
  memset(&info, 0, sizeof info);
  info.base.argsz = extended ? sizeof info : sizeof info.base;
  info.base.flags = VFIO_GFX_PLANE_TYPE_DMABUF | (extended ? VFIO_GFX_PLANE_FLAG_EXT_INFO : 0);
  info.base.drm_plane_type = 1; // DRM_PLANE_TYPE_PRIMARY
  if (ioctl(fd, VFIO_DEVICE_QUERY_GFX_PLANE, &info) < 0) return -1;
  if (info.base.drm_format == 0 || info.base.size == 0) return 0;
  p->drm_format = info.base.drm_format;
  for (int i = 0; i < 4; i++) p->fourcc[i] = (char)(info.base.drm_format >> (8 * i));
  p->fourcc[4] = 0;
  p->modifier = info.base.drm_format_mod;
  p->width = info.base.width;
  p->height = info.base.height;
  p->stride = info.base.stride;
  p->size = info.base.size;
  p->x = info.base.x_pos;
  p->y = info.base.y_pos;
  p->has_hotspot = info.base.x_hot != 0xffffffff && info.base.y_hot != 0xffffffff;
  p->hot_x = info.base.x_hot;
  p->hot_y = info.base.y_hot;
  if (extended) {
    p->head = info.head;
    p->num_heads = info.num_heads;
    p->src_x = info.src_x;
    p->src_y = info.src_y;
    p->flip_seq = info.flip_seq;
  }
  p->dmabuf_id = info.base.dmabuf_id;
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: query-loop N EXTENDED (device fd inherited as fd 3)\n");
    return 2;
  }
  long n = atol(argv[1]);
  int extended = atoi(argv[2]);
  unsigned long sum = 0;
  struct plane p;
  double t0 = now_ns();
  for (long i = 0; i < n; i++) {
    int r = query(3, extended, &p);
    if (r < 0) return perror("VFIO_DEVICE_QUERY_GFX_PLANE"), 1;
    sum += r ? p.width + p.dmabuf_id + (unsigned char)p.fourcc[0] : 0;
  }
  double t1 = now_ns();
  printf("%.3f %lu\n", (t1 - t0) / n, sum);
  return 0;
}
