/* pvtap: the thin entry point; everything lives in the core library. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
