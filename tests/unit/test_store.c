#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* stub: being written */
int main(void);
int
main(void)
{
	return 0;
}
