#include <stddef.h>
#include <stdint.h>

size_t golive_beauty_scratch(int w, int h);
int golive_beauty_avx2(void);
void golive_beauty(const uint8_t *src, int sstride, uint8_t *dst, int dstride, int w, int h, int r, float eps,
                   float strength, void *scratch, int avx2);
