// libyaml, the C YAML 1.1 parser (Debian's libyaml-dev), as kubeconfigs are read with it.
#include <yaml.h>
