/* cli.h: what the subcommand files of the pocket CLI share. Each command is
 * int cmd_NAME(int argc, char **argv) with argv[0] the command name, and
 * returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef PK_CLI_H
#define PK_CLI_H

#include "pocket.h"

typedef struct pk_cli_cmd {
    const char *name;
    const char *help;
    int (*fn)(int argc, char **argv);
} pk_cli_cmd;

/* commands, one per cli_*.c file */
int cmd_quantize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_convert_llama2c(int argc, char **argv);
int cmd_convert_raw(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_imatrix(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_erase(int argc, char **argv);

#endif
