module github.com/pqc-iiot/pqc-iiot

go 1.26.8
